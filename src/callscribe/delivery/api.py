"""JSON API of automations: CRUD, Send test, the delivery log, redelivery and the
company's SMTP settings. Admins only: automations hold credentials."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from sqlalchemy.orm import Session

from callscribe.auth.deps import DbSession, require
from callscribe.auth.permissions import Permission
from callscribe.auth.principal import Principal
from callscribe.db import session_scope
from callscribe.delivery import service
from callscribe.delivery.models import Automation, Delivery, DeliveryAttempt
from callscribe.delivery.schemas import (
    AttemptOut,
    AutomationIn,
    AutomationOut,
    AutomationPatch,
    DeliveryOut,
    DeliveryPage,
    PrivateTargets,
    SmtpSettingsIn,
    SmtpSettingsOut,
)
from callscribe.delivery.tasks import enqueue_deliveries
from callscribe.kit.pagination import PageNumber, PageSize

router = APIRouter(prefix="/api", tags=["automations"])


AutomationsAdmin = Annotated[Principal, Depends(require(Permission.AUTOMATIONS_MANAGE))]


def delivery_out(delivery: Delivery, attempts: list[DeliveryAttempt] | None = None) -> DeliveryOut:
    return DeliveryOut.model_validate(delivery).model_copy(
        update={"attempt_log": [AttemptOut.model_validate(a) for a in attempts or []]}
    )


def automation_out(
    automation: Automation, last: Delivery | None = None, whsec: str | None = None
) -> AutomationOut:
    return AutomationOut.model_validate(automation).model_copy(
        update={
            "last_delivery": delivery_out(last) if last else None,
            "standard_webhooks_secret": whsec,
        }
    )


def _one(session: Session, automation: Automation, whsec: str | None = None) -> AutomationOut:
    last = service.last_deliveries(session, [automation.id]).get(automation.id)
    return automation_out(automation, last, whsec)


@router.get("/automations", response_model=list[AutomationOut])
def list_automations(session: DbSession, principal: AutomationsAdmin) -> list[AutomationOut]:
    rows = service.list_automations(session, principal.company_id)
    last = service.last_deliveries(session, [a.id for a in rows])
    return [automation_out(a, last.get(a.id)) for a in rows]


@router.post("/automations", response_model=AutomationOut, status_code=201)
def create_automation(
    body: AutomationIn,
    session: DbSession,
    principal: AutomationsAdmin,
) -> AutomationOut:
    """Add a Slack, webhook or email automation. The URL and secrets are stored
    encrypted; a webhook's Standard Webhooks key is in this answer only."""
    automation, whsec = service.create_automation(session, principal.company_id, body)
    session.commit()
    return automation_out(automation, None, whsec)


@router.get("/automations/{automation_id}", response_model=AutomationOut)
def get_automation(
    automation_id: uuid.UUID,
    session: DbSession,
    principal: AutomationsAdmin,
) -> AutomationOut:
    return _one(session, service.get_automation(session, principal.company_id, automation_id))


@router.patch("/automations/{automation_id}", response_model=AutomationOut)
def patch_automation(
    automation_id: uuid.UUID,
    body: AutomationPatch,
    session: DbSession,
    principal: AutomationsAdmin,
) -> AutomationOut:
    automation, whsec = service.update_automation(
        session, principal.company_id, automation_id, body.model_dump(exclude_unset=True)
    )
    session.commit()
    return _one(session, automation, whsec)


@router.delete("/automations/{automation_id}", status_code=204)
def delete_automation(
    automation_id: uuid.UUID,
    session: DbSession,
    principal: AutomationsAdmin,
) -> Response:
    service.delete_automation(session, principal.company_id, automation_id)
    session.commit()
    return Response(status_code=204)


@router.post("/automations/{automation_id}/test", response_model=DeliveryOut)
def test_automation(automation_id: uuid.UUID, principal: AutomationsAdmin) -> DeliveryOut:
    """Send a sample payload now (one attempt, no retries) and answer with the result."""
    delivery_id = service.send_test(principal.company_id, automation_id, principal.user_id)
    with session_scope() as session:
        delivery = service.get_delivery(session, principal.company_id, delivery_id)
        return delivery_out(delivery, service.attempts_of(session, [delivery_id])[delivery_id])


@router.get("/automations/{automation_id}/deliveries", response_model=DeliveryPage)
def list_deliveries(
    automation_id: uuid.UUID,
    session: DbSession,
    principal: AutomationsAdmin,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> DeliveryPage:
    found = service.list_deliveries(session, principal.company_id, automation_id, page, page_size)
    attempts = service.attempts_of(session, [d.id for d in found.items])
    return DeliveryPage(
        total=found.total,
        page=found.page,
        page_size=found.page_size,
        deliveries=[delivery_out(d, attempts[d.id]) for d in found.items],
    )


@router.post("/deliveries/{delivery_id}/redeliver", response_model=DeliveryOut, status_code=202)
def redeliver(
    delivery_id: uuid.UUID,
    session: DbSession,
    principal: AutomationsAdmin,
) -> DeliveryOut:
    """Queue a finished delivery again: same body, same webhook-id."""
    delivery = service.redeliver(session, principal.company_id, delivery_id)
    session.commit()
    enqueue_deliveries([delivery.id])
    return delivery_out(delivery, service.attempts_of(session, [delivery.id])[delivery.id])


@router.get("/settings/smtp", response_model=SmtpSettingsOut)
def get_smtp(session: DbSession, principal: AutomationsAdmin) -> SmtpSettingsOut:
    return service.smtp_view(session, principal.company_id)


@router.put("/settings/smtp", response_model=SmtpSettingsOut)
def put_smtp(
    body: SmtpSettingsIn,
    session: DbSession,
    principal: AutomationsAdmin,
) -> SmtpSettingsOut:
    """The company's outgoing mail server for email automations; the password is
    stored encrypted and never returned."""
    service.update_smtp_settings(session, principal.company_id, body)
    session.commit()
    return service.smtp_view(session, principal.company_id)


@router.get("/settings/private-targets", response_model=PrivateTargets)
def get_private_targets(session: DbSession, principal: AutomationsAdmin) -> PrivateTargets:
    return PrivateTargets(hosts=service.private_targets(session, principal.company_id))


@router.put("/settings/private-targets", response_model=PrivateTargets)
def put_private_targets(
    body: PrivateTargets, session: DbSession, principal: AutomationsAdmin
) -> PrivateTargets:
    """Private destinations this company's webhook and Slack automations may reach; each
    change is written to the technical log."""
    hosts = service.set_private_targets(
        session, principal.company_id, body.hosts, changed_by=principal_name(principal)
    )
    session.commit()
    return PrivateTargets(hosts=hosts)


def principal_name(principal: Principal) -> str:
    if principal.user_id is not None:
        return f"user {principal.user_id}"
    if principal.api_key_id is not None:
        return f"API key {principal.api_key_id}"
    return f"OAuth app {principal.oauth_app_id}"

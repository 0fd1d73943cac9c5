"""JSON API of automations: CRUD, Send test, the delivery log, redelivery and the
company's SMTP settings. Admins only: automations hold credentials."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.orm import Session

from callscribe.accounts.service import Principal
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
    SmtpSettingsIn,
    SmtpSettingsOut,
)
from callscribe.delivery.tasks import enqueue_deliveries
from callscribe.web.deps import get_session, require_principal, require_role

router = APIRouter(prefix="/api", tags=["automations"])


def admin(principal: Principal = Depends(require_principal)) -> Principal:
    require_role(principal, "admin")
    return principal


def delivery_out(delivery: Delivery, attempts: list[DeliveryAttempt] | None = None) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id,
        automation_id=delivery.automation_id,
        call_id=delivery.engagement_id,
        event=delivery.event,
        status=delivery.status,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at if delivery.status == "retrying" else None,
        last_error=delivery.last_error,
        created_at=delivery.created_at,
        updated_at=delivery.updated_at,
        attempt_log=[
            AttemptOut(
                attempt=a.attempt,
                started_at=a.started_at,
                duration_ms=a.duration_ms,
                ok=a.ok,
                http_status=a.http_status,
                smtp_reply=a.smtp_reply,
                response=a.response,
                error=a.error,
                retry_in_s=a.retry_in_s,
            )
            for a in attempts or []
        ],
    )


def automation_out(
    automation: Automation, last: Delivery | None = None, whsec: str | None = None
) -> AutomationOut:
    options = automation.options or {}
    return AutomationOut(
        id=automation.id,
        kind=automation.kind,
        name=automation.name,
        enabled=automation.enabled,
        target=automation.target_hint,
        method=options.get("method"),
        timeout_s=options.get("timeout_s"),
        secret_set=bool(automation.secret_enc),
        secret_last4=automation.secret_last4,
        recipients=options.get("recipients") or [],
        send_to_agent=options.get("send_to_agent"),
        include_internal=automation.include_internal,
        agent_id=automation.agent_id,
        direction=automation.direction,
        consecutive_failures=automation.consecutive_failures,
        disabled_reason=automation.disabled_reason,
        last_delivery=delivery_out(last) if last else None,
        created_at=automation.created_at,
        standard_webhooks_secret=whsec,
    )


def _one(session: Session, automation: Automation, whsec: str | None = None) -> AutomationOut:
    last = service.last_deliveries(session, [automation.id]).get(automation.id)
    return automation_out(automation, last, whsec)


@router.get("/automations", response_model=list[AutomationOut])
def list_automations(
    principal: Principal = Depends(admin), session: Session = Depends(get_session)
) -> list[AutomationOut]:
    rows = service.list_automations(session, principal.company_id)
    last = service.last_deliveries(session, [a.id for a in rows])
    return [automation_out(a, last.get(a.id)) for a in rows]


@router.post("/automations", response_model=AutomationOut, status_code=201)
def create_automation(
    body: AutomationIn,
    principal: Principal = Depends(admin),
    session: Session = Depends(get_session),
) -> AutomationOut:
    """Add a Slack, webhook or email automation. The URL and secrets are stored
    encrypted; a webhook's Standard Webhooks key is in this answer only."""
    automation, whsec = service.create_automation(session, principal.company_id, body)
    session.commit()
    return automation_out(automation, None, whsec)


@router.get("/automations/{automation_id}", response_model=AutomationOut)
def get_automation(
    automation_id: uuid.UUID,
    principal: Principal = Depends(admin),
    session: Session = Depends(get_session),
) -> AutomationOut:
    return _one(session, service.get_automation(session, principal.company_id, automation_id))


@router.patch("/automations/{automation_id}", response_model=AutomationOut)
def patch_automation(
    automation_id: uuid.UUID,
    body: AutomationPatch,
    principal: Principal = Depends(admin),
    session: Session = Depends(get_session),
) -> AutomationOut:
    automation, whsec = service.update_automation(
        session, principal.company_id, automation_id, body.model_dump(exclude_unset=True)
    )
    session.commit()
    return _one(session, automation, whsec)


@router.delete("/automations/{automation_id}", status_code=204)
def delete_automation(
    automation_id: uuid.UUID,
    principal: Principal = Depends(admin),
    session: Session = Depends(get_session),
) -> Response:
    service.delete_automation(session, principal.company_id, automation_id)
    session.commit()
    return Response(status_code=204)


@router.post("/automations/{automation_id}/test", response_model=DeliveryOut)
def test_automation(automation_id: uuid.UUID, principal: Principal = Depends(admin)) -> DeliveryOut:
    """Send a sample payload now (one attempt, no retries) and answer with the result."""
    delivery_id = service.send_test(principal.company_id, automation_id, principal.user_id)
    with session_scope() as session:
        delivery = service.get_delivery(session, principal.company_id, delivery_id)
        return delivery_out(delivery, service.attempts_of(session, [delivery_id])[delivery_id])


@router.get("/automations/{automation_id}/deliveries", response_model=DeliveryPage)
def list_deliveries(
    automation_id: uuid.UUID,
    page: int = Query(1, ge=1),
    page_size: int = Query(50, ge=1, le=200),
    principal: Principal = Depends(admin),
    session: Session = Depends(get_session),
) -> DeliveryPage:
    rows, total = service.list_deliveries(
        session, principal.company_id, automation_id, page, page_size
    )
    attempts = service.attempts_of(session, [d.id for d in rows])
    return DeliveryPage(
        total=total,
        page=page,
        page_size=page_size,
        deliveries=[delivery_out(d, attempts[d.id]) for d in rows],
    )


@router.post("/deliveries/{delivery_id}/redeliver", response_model=DeliveryOut, status_code=202)
def redeliver(
    delivery_id: uuid.UUID,
    principal: Principal = Depends(admin),
    session: Session = Depends(get_session),
) -> DeliveryOut:
    """Queue a finished delivery again: same body, same webhook-id."""
    delivery = service.redeliver(session, principal.company_id, delivery_id)
    session.commit()
    enqueue_deliveries([delivery.id])
    return delivery_out(delivery, service.attempts_of(session, [delivery.id])[delivery.id])


@router.get("/settings/smtp", response_model=SmtpSettingsOut)
def get_smtp(
    principal: Principal = Depends(admin), session: Session = Depends(get_session)
) -> SmtpSettingsOut:
    return SmtpSettingsOut(**service.smtp_view(session, principal.company_id))


@router.put("/settings/smtp", response_model=SmtpSettingsOut)
def put_smtp(
    body: SmtpSettingsIn,
    principal: Principal = Depends(admin),
    session: Session = Depends(get_session),
) -> SmtpSettingsOut:
    """The company's outgoing mail server for email automations; the password is
    stored encrypted and never returned."""
    service.update_smtp_settings(session, principal.company_id, body)
    session.commit()
    return SmtpSettingsOut(**service.smtp_view(session, principal.company_id))

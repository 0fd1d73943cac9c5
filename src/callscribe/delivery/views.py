"""The Automations page: the list (enabled toggle, last delivery, Send test), adding a
Slack / webhook / email automation, one automation's settings and delivery log, and the
company's SMTP settings. Admins only: automations hold credentials."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.responses import Response

from callscribe.accounts import service as accounts
from callscribe.auth.deps import AdminUser, DbSession
from callscribe.auth.users import CurrentUser
from callscribe.calls import service as calls_service
from callscribe.delivery import service
from callscribe.delivery.models import (
    UNFINISHED_STATUSES,
    Automation,
    AutomationKind,
    DeliveryStatus,
    TlsMode,
)
from callscribe.delivery.schemas import AutomationIn, AutomationPatch, SmtpSettingsIn
from callscribe.delivery.tasks import enqueue_deliveries
from callscribe.errors import CallscribeError, NotFound, from_validation
from callscribe.web.flash import flash
from callscribe.web.templating import redirect, render

router = APIRouter(include_in_schema=False)

KIND_LABELS: dict[str, str] = {
    AutomationKind.SLACK: "Slack",
    AutomationKind.WEBHOOK: "Webhook",
    AutomationKind.EMAIL: "Email",
}
STATUS_BADGES = {
    DeliveryStatus.SUCCEEDED: "completed",
    DeliveryStatus.FAILED: "failed",
    DeliveryStatus.PENDING: "waiting",
    DeliveryStatus.SENDING: "analyzing",
    DeliveryStatus.RETRYING: "waiting",
}


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound("Automation not found.") from None


def _form_error(exc: ValidationError | CallscribeError) -> str:
    if isinstance(exc, CallscribeError):
        return exc.message
    return from_validation(exc).message


async def _form(request: Request) -> dict[str, str]:
    return {k: v for k, v in (await request.form()).items() if isinstance(v, str)}


def _filters_from(form: dict[str, str]) -> dict[str, Any]:
    return {
        "include_internal": bool(form.get("include_internal")),
        "agent_id": form.get("agent_id") or None,
        "direction": form.get("direction") or None,
        "events": EVENT_CHOICES.get(form.get("events") or "", [EVENT_CHOICES_DEFAULT]),
    }


# the "When" select of the forms: outbox events an automation delivers
EVENT_CHOICES_DEFAULT = "call.completed"
EVENT_CHOICES: dict[str, list[str]] = {
    "call.completed": ["call.completed"],
    "tracker.matched": ["tracker.matched"],
    "both": ["call.completed", "tracker.matched"],
}


def _recipients(form: dict[str, str]) -> list[str]:
    raw = (form.get("recipients") or "").replace(",", "\n").replace(";", "\n")
    return [line.strip() for line in raw.splitlines() if line.strip()]


def automation_in(form: dict[str, str]) -> AutomationIn:
    kind = form.get("kind") or AutomationKind.WEBHOOK
    data: dict[str, Any] = {
        "kind": kind,
        "name": (form.get("name") or "").strip() or KIND_LABELS.get(kind, kind),
        "enabled": True,
        **_filters_from(form),
    }
    if kind in (AutomationKind.SLACK, AutomationKind.WEBHOOK):
        data["url"] = (form.get("url") or "").strip() or None
    if kind == AutomationKind.WEBHOOK:
        data["method"] = form.get("method") or "POST"
        data["timeout_s"] = form.get("timeout_s") or 10
        data["secret"] = form.get("secret") or None
    if kind == AutomationKind.EMAIL:
        data["recipients"] = _recipients(form)
        data["send_to_agent"] = bool(form.get("send_to_agent"))
    return AutomationIn.model_validate(data)


def automation_patch(automation: Automation, form: dict[str, str]) -> dict[str, Any]:
    """Edit form -> PATCH semantics: empty URL / secret fields keep what is stored."""
    data: dict[str, Any] = {
        "name": (form.get("name") or "").strip() or automation.name,
        "enabled": bool(form.get("enabled")),
        **_filters_from(form),
    }
    if (form.get("url") or "").strip():
        data["url"] = form["url"].strip()
    if automation.kind == AutomationKind.WEBHOOK:
        data["method"] = form.get("method") or "POST"
        data["timeout_s"] = form.get("timeout_s") or 10
        if form.get("secret_remove"):
            data["secret"] = ""
        elif form.get("secret"):
            data["secret"] = form["secret"]
    if automation.kind == AutomationKind.EMAIL:
        data["recipients"] = _recipients(form)
        data["send_to_agent"] = bool(form.get("send_to_agent"))
    return AutomationPatch.model_validate(data).model_dump(exclude_unset=True)


def _rows(session: Session, company_id: uuid.UUID) -> list[dict[str, Any]]:
    items = service.list_automations(session, company_id)
    last = service.last_deliveries(session, [a.id for a in items])
    return [{"a": a, "last": last.get(a.id)} for a in items]


def _common(session: Session, user: CurrentUser) -> dict[str, Any]:
    return {
        "agents": accounts.list_agents(session, user.company_id),
        "kinds": KIND_LABELS,
        "badges": STATUS_BADGES,
    }


def _list_page(
    request: Request,
    session: Session,
    user: CurrentUser,
    *,
    error: str | None = None,
    smtp_error: str | None = None,
    private_error: str | None = None,
    private_form: list[str] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "delivery/automations.html",
        status_code=status_code,
        rows=_rows(session, user.company_id),
        smtp=service.smtp_view(session, user.company_id),
        error=error,
        smtp_error=smtp_error,
        private_targets=service.private_targets(session, user.company_id),
        private_error=private_error,
        private_form=private_form,
        form=form or {},
        **_common(session, user),
    )


def _log(session: Session, company_id: uuid.UUID, automation_id: uuid.UUID) -> dict[str, Any]:
    found = service.list_deliveries(session, company_id, automation_id, 1, 50)
    deliveries, total = found.items, found.total
    return {
        "deliveries": deliveries,
        "call_names": calls_service.call_names(
            session, company_id, [d.engagement_id for d in deliveries if d.engagement_id]
        ),
        "total": total,
        "attempts": service.attempts_of(session, [d.id for d in deliveries]),
        "active": any(d.status in UNFINISHED_STATUSES for d in deliveries),
    }


def _detail_page(
    request: Request,
    session: Session,
    user: CurrentUser,
    automation: Automation,
    *,
    whsec: str | None = None,
    error: str | None = None,
    status_code: int = 200,
    form: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "delivery/automation.html",
        status_code=status_code,
        form=form or {},  # what a refused submission typed (never a stored secret)
        a=automation,
        whsec=whsec,
        error=error,
        test=None,
        **_log(session, user.company_id, automation.id),
        **_common(session, user),
    )


@router.get("/automations")
def automations_page(
    request: Request,
    user: AdminUser,
    session: DbSession,
) -> Response:
    return _list_page(request, session, user)


@router.post("/automations")
async def add_automation(request: Request, user: AdminUser) -> Response:
    form = await _form(request)
    return await run_in_threadpool(_add_automation, request, user, form)


def _add_automation(request: Request, user: CurrentUser, form: dict[str, str]) -> Response:
    from callscribe.db import get_sessionmaker

    session = get_sessionmaker()()
    try:
        try:
            automation, whsec = service.create_automation(
                session, user.company_id, automation_in(form)
            )
            session.commit()
        except (ValidationError, CallscribeError) as exc:
            session.rollback()
            return _list_page(
                request, session, user, error=_form_error(exc), form=form, status_code=400
            )
        flash(request, f"Automation “{automation.name}” added.", "success")
        # rendered, not redirected: the Standard Webhooks key is shown this once and must
        # not travel in a (signed, readable) flash cookie
        return _detail_page(request, session, user, automation, whsec=whsec)
    finally:
        session.close()


@router.get("/automations/{automation_id}")
def automation_page(
    request: Request,
    automation_id: str,
    user: AdminUser,
    session: DbSession,
) -> Response:
    automation = service.get_automation(session, user.company_id, _uuid(automation_id))
    return _detail_page(request, session, user, automation)


@router.post("/automations/{automation_id}")
async def edit_automation(request: Request, automation_id: str, user: AdminUser) -> Response:
    form = await _form(request)
    return await run_in_threadpool(_edit_automation, request, user, _uuid(automation_id), form)


def _edit_automation(
    request: Request, user: CurrentUser, automation_id: uuid.UUID, form: dict[str, str]
) -> Response:
    from callscribe.db import get_sessionmaker

    session = get_sessionmaker()()
    try:
        automation = service.get_automation(session, user.company_id, automation_id)
        try:
            automation, whsec = service.update_automation(
                session, user.company_id, automation_id, automation_patch(automation, form)
            )
            session.commit()
        except (ValidationError, CallscribeError) as exc:
            session.rollback()
            automation = service.get_automation(session, user.company_id, automation_id)
            return _detail_page(
                request,
                session,
                user,
                automation,
                error=_form_error(exc),
                status_code=400,
                form={k: form.get(k, "") for k in ("url", "secret")},
            )
        if whsec:
            return _detail_page(request, session, user, automation, whsec=whsec)
        flash(request, "Automation saved.", "success")
        return redirect(request, f"/automations/{automation_id}")
    finally:
        session.close()


@router.post("/automations/{automation_id}/toggle")
def toggle_automation(
    request: Request,
    automation_id: str,
    user: AdminUser,
    session: DbSession,
) -> Response:
    automation = service.get_automation(session, user.company_id, _uuid(automation_id))
    automation, _ = service.update_automation(
        session, user.company_id, automation.id, {"enabled": not automation.enabled}
    )
    session.commit()
    last = service.last_deliveries(session, [automation.id]).get(automation.id)
    return render(
        request,
        "delivery/_row.html",
        row={"a": automation, "last": last},
        **_common(session, user),
    )


@router.post("/automations/{automation_id}/delete")
def delete_automation(
    request: Request,
    automation_id: str,
    user: AdminUser,
    session: DbSession,
) -> Response:
    service.delete_automation(session, user.company_id, _uuid(automation_id))
    session.commit()
    flash(request, "Automation deleted.")
    return redirect(request, "/automations")


@router.post("/automations/{automation_id}/test")
def test_automation(
    request: Request,
    automation_id: str,
    user: AdminUser,
    session: DbSession,
) -> Response:
    """Send test from the page: the result at once, and the log with it."""
    automation_uuid = _uuid(automation_id)
    delivery_id = service.send_test(user.company_id, automation_uuid, user.id)
    test = service.get_delivery(session, user.company_id, delivery_id)
    return render(
        request,
        "delivery/_log.html",
        a=service.get_automation(session, user.company_id, automation_uuid),
        test=test,
        test_attempts=service.attempts_of(session, [delivery_id])[delivery_id],
        **_log(session, user.company_id, automation_uuid),
        **_common(session, user),
    )


@router.get("/automations/{automation_id}/log")
def automation_log(
    request: Request,
    automation_id: str,
    user: AdminUser,
    session: DbSession,
) -> Response:
    automation = service.get_automation(session, user.company_id, _uuid(automation_id))
    return render(
        request,
        "delivery/_log.html",
        a=automation,
        test=None,
        **_log(session, user.company_id, automation.id),
        **_common(session, user),
    )


@router.post("/deliveries/{delivery_id}/redeliver")
def redeliver(
    request: Request,
    delivery_id: str,
    user: AdminUser,
    session: DbSession,
) -> Response:
    delivery = service.redeliver(session, user.company_id, _uuid(delivery_id))
    session.commit()
    enqueue_deliveries([delivery.id])
    flash(request, "Delivery queued again.")
    return redirect(request, f"/automations/{delivery.automation_id}")


@router.post("/automations-smtp")
async def save_smtp(request: Request, user: AdminUser) -> Response:
    form = await _form(request)
    return await run_in_threadpool(_save_smtp, request, user, form)


def _save_smtp(request: Request, user: CurrentUser, form: dict[str, str]) -> Response:
    from callscribe.db import get_sessionmaker

    session = get_sessionmaker()()
    try:
        try:
            data = SmtpSettingsIn.model_validate(
                {
                    "host": (form.get("host") or "").strip(),
                    "port": form.get("port") or 587,
                    "tls_mode": form.get("tls_mode") or TlsMode.STARTTLS,
                    "username": (form.get("username") or "").strip() or None,
                    # an empty password field keeps the stored one; the box removes it
                    "password": "" if form.get("password_remove") else form.get("password") or None,
                    "from_address": (form.get("from_address") or "").strip(),
                }
            )
            service.update_smtp_settings(session, user.company_id, data)
            session.commit()
        except (ValidationError, CallscribeError) as exc:
            session.rollback()
            return _list_page(request, session, user, smtp_error=_form_error(exc), status_code=400)
        flash(request, "Email settings saved.", "success")
        return redirect(request, "/automations#email-settings")
    finally:
        session.close()


@router.post("/automations-private-targets")
async def save_private_targets(request: Request, user: AdminUser) -> Response:
    form = await _form(request)
    return await run_in_threadpool(_save_private_targets, request, user, form)


def _save_private_targets(request: Request, user: CurrentUser, form: dict[str, str]) -> Response:
    from callscribe.db import get_sessionmaker

    entries = [line.strip() for line in (form.get("hosts") or "").splitlines() if line.strip()]
    session = get_sessionmaker()()
    try:
        try:
            service.set_private_targets(
                session, user.company_id, entries, changed_by=f"{user.name} <{user.email}>"
            )
            session.commit()
        except CallscribeError as exc:
            session.rollback()
            return _list_page(
                request,
                session,
                user,
                private_error=exc.message,
                private_form=entries,
                status_code=400,
            )
        flash(request, "Private webhook targets saved.", "success")
        return redirect(request, "/automations#private-targets")
    finally:
        session.close()

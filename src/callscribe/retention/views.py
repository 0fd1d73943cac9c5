"""Pages: Settings -> Retention, and the confirmed delete / erase buttons of the call
and customer pages."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from callscribe.auth.csrf import verify_csrf
from callscribe.auth.deps import AdminUser, DbSession, PageUser
from callscribe.auth.permissions import Permission
from callscribe.calls import service as calls
from callscribe.errors import CallscribeError
from callscribe.retention import service
from callscribe.web.flash import flash
from callscribe.web.templating import redirect, render

router = APIRouter()


@router.get("/settings/retention")
def retention_page(request: Request, user: AdminUser, session: DbSession) -> Response:
    policy = service.get_policy(session, user.company_id)
    return render(request, "retention/settings.html", policy=policy, error=None, tab="retention")


@router.post("/settings/retention", dependencies=[Depends(verify_csrf)])
def retention_save(
    request: Request,
    user: AdminUser,
    session: DbSession,
    recordings_days: str = Form(""),
    transcripts_days: str = Form(""),
    create_summaries: str | None = Form(None),
    apply_to_internal: str | None = Form(None),
) -> Response:
    try:
        policy = service.set_policy(
            session,
            user.company_id,
            recordings_days=recordings_days.strip(),
            transcripts_days=transcripts_days.strip(),
            create_summaries=create_summaries is not None,
            apply_to_internal=apply_to_internal is not None,
            changed_by=f"{user.name} <{user.email}>",
        )
        session.commit()
    except CallscribeError as exc:
        session.rollback()
        shown = service.Policy(
            create_summaries=create_summaries is not None,
            apply_to_internal=apply_to_internal is not None,
        )
        return render(
            request,
            "retention/settings.html",
            status_code=exc.status,
            policy=shown,
            error=exc.message,
            tab="retention",
        )
    flash(request, policy.warning or "Retention saved.", "warning" if policy.warning else "info")
    return redirect(request, "/settings/retention")


@router.post("/calls/{call_id}/delete", dependencies=[Depends(verify_csrf)])
def delete_call(request: Request, call_id: str, user: PageUser, session: DbSession) -> Response:
    if not user.can(Permission.CALLS_MANAGE):
        flash(request, "Your role does not allow this.", "error")
        return redirect(request, f"/calls/{call_id}")
    call = calls.get_call(session, user.principal, call_id)
    service.delete_engagement(session, call, deleted_by=f"{user.name} <{user.email}>")
    session.commit()
    flash(request, "The engagement, its recording, transcript and Minutes were deleted.")
    return redirect(request, "/calls")


@router.post("/customers/{customer_id}/erase", dependencies=[Depends(verify_csrf)])
def erase_customer(
    request: Request, customer_id: uuid.UUID, user: PageUser, session: DbSession
) -> Response:
    if not user.can(Permission.CUSTOMERS_WRITE):
        flash(request, "Your role does not allow this.", "error")
        return redirect(request, f"/customers/{customer_id}/journey")
    counts = service.erase_customer(
        session, user.company_id, customer_id, erased_by=f"{user.name} <{user.email}>"
    )
    session.commit()
    flash(
        request,
        f"The customer was erased with {counts['engagements']} engagement(s) and "
        f"{counts['recordings']} recording(s).",
    )
    return redirect(request, "/customers")

"""Settings -> Ingest API: the Account ID, ingestion sources and ingest keys (the secret
shown once)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from callscribe.auth.deps import AdminUser, DbSession
from callscribe.auth.users import CurrentUser
from callscribe.errors import CallscribeError
from callscribe.ingest.zipbatch import access
from callscribe.web.flash import flash
from callscribe.web.templating import redirect, render

router = APIRouter(include_in_schema=False)
PAGE = "/settings/ingest"


def _page(
    request: Request,
    session: Session,
    user: CurrentUser,
    *,
    new_secret: str | None = None,
    new_key_name: str | None = None,
) -> Response:
    return render(
        request,
        "accounts/settings_ingest.html",
        account_id=str(user.company_id),
        sources=access.list_sources(session, user.company_id),
        keys=access.list_keys(session, user.company_id),
        new_secret=new_secret,
        new_key_name=new_key_name,
        tab="ingest",
    )


@router.get(PAGE)
def ingest_settings(request: Request, user: AdminUser, session: DbSession) -> Response:
    return _page(request, session, user)


@router.post(f"{PAGE}/sources")
def create_source(
    request: Request, user: AdminUser, session: DbSession, name: str = Form("")
) -> Response:
    try:
        source = access.create_source(session, user.company_id, name, user.id)
        session.commit()
    except CallscribeError as exc:
        flash(request, exc.message, "error")
        return redirect(request, PAGE)
    flash(request, f"Ingestion source {source.name} created: Source ID {source.id}.")
    return redirect(request, PAGE)


@router.post(f"{PAGE}/keys")
def create_key(
    request: Request, user: AdminUser, session: DbSession, name: str = Form("")
) -> Response:
    row, plain = access.create_key(session, user.company_id, name, user.id)
    session.commit()
    # shown once: never stored in plain, never in a cookie or a URL
    return _page(request, session, user, new_secret=plain, new_key_name=row.name)


@router.post(PAGE + "/keys/{key_id}/revoke")
def revoke_key(
    request: Request, key_id: uuid.UUID, user: AdminUser, session: DbSession
) -> Response:
    try:
        row = access.revoke_key(session, user.company_id, key_id)
        session.commit()
    except CallscribeError as exc:
        flash(request, exc.message, "error")
        return redirect(request, PAGE)
    flash(request, f"Ingest key {row.name} ({row.prefix}…) revoked.")
    return redirect(request, PAGE)

"""The Integrations page (/integrations): add a connector, test it, sync it, turn it off
and on, see its sync log, and for CloudVoice the real-time webhook setup."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.responses import Response

from callscribe.auth.deps import DbSession, ManagerUser
from callscribe.auth.principal import Principal
from callscribe.auth.users import CurrentUser
from callscribe.connectors import service, sync
from callscribe.connectors.models import Connector, SyncStatus, SyncTrigger
from callscribe.connectors.schemas import ConnectorCreate, ConnectorUpdate
from callscribe.db import session_scope
from callscribe.errors import CallscribeError, from_validation
from callscribe.web.flash import flash
from callscribe.web.templating import redirect, render

router = APIRouter(include_in_schema=False)
RUNS_SHOWN = 10


def _card(session: Session, principal: Principal, connector: Connector) -> dict[str, Any]:
    view = service.connector_view(connector)
    runs = service.list_runs(session, principal, connector.id, RUNS_SHOWN)
    return {
        "c": view,
        "runs": [service.run_view(r) for r in runs],
        "secret": service.webhook_secret(connector) if view.webhook else None,
    }


def _page(
    request: Request,
    session: Session,
    user: CurrentUser,
    status_code: int = 200,
    form: dict[str, Any] | None = None,
) -> Response:
    connectors = service.list_connectors(session, user.principal)
    return render(
        request,
        "connectors/integrations.html",
        status_code=status_code,
        cards=[_card(session, user.principal, c) for c in connectors],
        types=service.type_views(),
        form=form or {},
    )


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return from_validation(exc).message
    return exc.message if isinstance(exc, CallscribeError) else str(exc)


@router.get("/integrations")
def integrations_page(
    request: Request,
    user: ManagerUser,
    session: DbSession,
) -> Response:
    return _page(request, session, user)


@router.post("/integrations")
async def add_connector(request: Request, user: ManagerUser) -> Response:
    form = dict(await request.form())
    type_ = str(form.get("type", ""))

    def create() -> Response:
        with session_scope() as session:
            try:
                cls = service.get_connector_type(type_)
                minutes = int(str(form.get("poll_interval_min") or 15))
                payload = ConnectorCreate(
                    type=type_,
                    name=str(form.get("name") or "") or None,
                    base_url=str(form.get("base_url") or "") or None,
                    credentials={
                        f.name: str(form.get(f"cred_{f.name}") or "") for f in cls.credential_fields
                    },
                    poll_interval_s=minutes * 60,
                )
                connector = service.create_connector(session, user.principal, payload)
            except (CallscribeError, ValidationError, ValueError) as exc:
                session.rollback()
                flash(request, f"The connector was not added: {_message(exc)}", "error")
                keep = {k: v for k, v in form.items() if not str(k).startswith("cred_")}
                return _page(request, session, user, status_code=400, form=keep)
            name = connector.name
        flash(request, f"{name} added. Test the connection, then sync.", "success")
        return redirect(request, "/integrations")

    return await run_in_threadpool(create)


def _connector_action(
    request: Request, user: CurrentUser, connector_id: str, action: Any
) -> Response:
    """Run `action(session, connector) -> (message, level)`; htmx gets the card back with
    the message in it, a plain form post a redirect with the message flashed."""
    with session_scope() as session:
        connector = service.get_connector(session, user.principal, connector_id)
        message, level = action(session, connector)
        session.commit()
        if request.headers.get("hx-request"):
            session.refresh(connector)
            return render(
                request,
                "connectors/_connector.html",
                card=_card(session, user.principal, connector),
                types=service.type_views(),
                result={"message": message, "level": level},
            )
    flash(request, message, level)
    return redirect(request, "/integrations")


@router.post("/integrations/{connector_id}/test")
def test_connector(request: Request, connector_id: str, user: ManagerUser) -> Response:
    def action(session: Session, connector: Connector) -> tuple[str, str]:
        outcome = service.test_connection(session, user.principal, connector.id)
        return outcome.message, "success" if outcome.ok else "error"

    return _connector_action(request, user, connector_id, action)


@router.post("/integrations/{connector_id}/sync")
def sync_connector(request: Request, connector_id: str, user: ManagerUser) -> Response:
    with session_scope() as session:
        cid = service.get_connector(session, user.principal, connector_id).id
    try:
        outcome = sync.sync_connector(cid, trigger=SyncTrigger.MANUAL)
        if outcome.status == SyncStatus.SUCCEEDED:
            text = f"Sync done: {outcome.imported} new call(s) imported"
            extra = [f"{outcome.duplicates} already here"] if outcome.duplicates else []
            if outcome.pending:
                extra.append(f"{outcome.pending} still in progress, next sync")
            if outcome.failed:
                extra.append(f"{outcome.failed} could not be imported")
            result = (
                text + (f" ({', '.join(extra)})" if extra else "") + ".",
                "warning" if outcome.failed else "success",
            )
        else:
            result = (f"Sync failed: {outcome.error}", "error")
    except CallscribeError as exc:
        result = (exc.message, "error")

    return _connector_action(request, user, str(cid), lambda _s, _c: result)


def _toggle(enabled: bool):  # type: ignore[no-untyped-def]
    def view(request: Request, connector_id: str, user: ManagerUser) -> Response:
        def action(session: Session, connector: Connector) -> tuple[str, str]:
            service.set_enabled(session, user.principal, connector.id, enabled)
            if enabled:
                return f"{connector.name} is enabled: it syncs again.", "success"
            return (
                f"{connector.name} is disabled: no polling, its webhook is refused. "
                "Nothing was deleted."
            ), "info"

        return _connector_action(request, user, connector_id, action)

    return view


router.add_api_route("/integrations/{connector_id}/enable", _toggle(True), methods=["POST"])
router.add_api_route("/integrations/{connector_id}/disable", _toggle(False), methods=["POST"])


@router.post("/integrations/{connector_id}/rotate-secret")
def rotate_secret(request: Request, connector_id: str, user: ManagerUser) -> Response:
    def action(session: Session, connector: Connector) -> tuple[str, str]:
        service.rotate_webhook_secret(session, user.principal, connector.id)
        return (
            "New webhook secret. Update the custom-header credential in CloudVoice: "
            "the old secret is refused from now on."
        ), "warning"

    return _connector_action(request, user, connector_id, action)


@router.post("/integrations/{connector_id}/edit")
async def edit_connector(request: Request, connector_id: str, user: ManagerUser) -> Response:
    form = dict(await request.form())

    def update() -> Response:
        with session_scope() as session:
            try:
                connector = service.get_connector(session, user.principal, connector_id)
                cls = service.get_connector_type(connector.type)
                creds = {
                    f.name: str(form[f"cred_{f.name}"]).strip()
                    for f in cls.credential_fields
                    if str(form.get(f"cred_{f.name}") or "").strip()
                }
                minutes = form.get("poll_interval_min")
                service.update_connector(
                    session,
                    user.principal,
                    connector.id,
                    ConnectorUpdate(
                        name=str(form.get("name") or "") or None,
                        base_url=str(form.get("base_url") or "") or None,
                        credentials=creds or None,
                        poll_interval_s=int(str(minutes)) * 60 if minutes else None,
                    ),
                )
                flash(request, f"{connector.name} saved.", "success")
            except (CallscribeError, ValidationError, ValueError) as exc:
                session.rollback()
                flash(request, f"Not saved: {_message(exc)}", "error")
        return redirect(request, "/integrations")

    return await run_in_threadpool(update)


@router.post("/integrations/{connector_id}/delete")
def delete_connector(request: Request, connector_id: str, user: ManagerUser) -> Response:
    with session_scope() as session:
        service.delete_connector(session, user.principal, connector_id)
    flash(request, "Connector removed. Calls it imported stay.", "info")
    return redirect(request, "/integrations")

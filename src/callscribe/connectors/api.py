"""JSON API of connectors (/api/connectors) and the real-time webhook endpoint."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from callscribe.auth.deps import DbSession, require
from callscribe.auth.permissions import Permission
from callscribe.auth.principal import Principal
from callscribe.connectors import service, sync, webhooks
from callscribe.connectors.base import WebhookDelivery, WebhookRequest
from callscribe.connectors.models import SyncTrigger
from callscribe.connectors.schemas import (
    ConnectionResult,
    ConnectionTest,
    ConnectorCreate,
    ConnectorList,
    ConnectorOut,
    ConnectorTypeOut,
    ConnectorUpdate,
    ProviderWebhookAccepted,
    SyncRunList,
    SyncRunOut,
    WebhookAccepted,
    WebhookSecretOut,
)
from callscribe.connectors.tasks import enqueue_import_after_commit, enqueue_sync
from callscribe.db import session_scope
from callscribe.errors import PayloadTooLarge
from callscribe.settings import get_settings

router = APIRouter(tags=["connectors"])
MAX_WEBHOOK_BODY = 64 * 1024


ConnectorsManager = Annotated[Principal, Depends(require(Permission.CONNECTORS_MANAGE))]


@router.get("/api/connectors/types", response_model=list[ConnectorTypeOut])
def connector_types(_principal: ConnectorsManager) -> list[ConnectorTypeOut]:
    return service.type_views()


@router.post("/api/connectors/test", response_model=ConnectionResult)
def test_settings(payload: ConnectionTest, _principal: ConnectorsManager) -> ConnectionResult:
    """Try a type, base URL and credentials before saving them."""
    outcome = service.test_settings(payload)
    return ConnectionResult(ok=outcome.ok, message=outcome.message, code=outcome.code)


@router.get("/api/connectors", response_model=ConnectorList)
def list_connectors(principal: ConnectorsManager, session: DbSession) -> ConnectorList:
    return ConnectorList(
        connectors=[service.connector_view(c) for c in service.list_connectors(session, principal)]
    )


@router.post("/api/connectors", status_code=201, response_model=ConnectorOut)
def create_connector(
    payload: ConnectorCreate,
    principal: ConnectorsManager,
    session: DbSession,
) -> ConnectorOut:
    """Credentials are stored encrypted and never shown again (only a hint)."""
    connector = service.create_connector(session, principal, payload)
    session.commit()
    return service.connector_view(connector)


@router.get("/api/connectors/{connector_id}", response_model=ConnectorOut)
def get_connector(
    connector_id: str,
    principal: ConnectorsManager,
    session: DbSession,
) -> ConnectorOut:
    return service.connector_view(service.get_connector(session, principal, connector_id))


@router.patch("/api/connectors/{connector_id}", response_model=ConnectorOut)
def update_connector(
    connector_id: str,
    payload: ConnectorUpdate,
    principal: ConnectorsManager,
    session: DbSession,
) -> ConnectorOut:
    connector = service.update_connector(session, principal, connector_id, payload)
    session.commit()
    return service.connector_view(connector)


@router.delete("/api/connectors/{connector_id}")
def delete_connector(
    connector_id: str,
    principal: ConnectorsManager,
    session: DbSession,
) -> dict:
    service.delete_connector(session, principal, connector_id)
    session.commit()
    return {"success": True}


@router.post("/api/connectors/{connector_id}/test", response_model=ConnectionResult)
def test_connection(
    connector_id: str,
    principal: ConnectorsManager,
    session: DbSession,
) -> ConnectionResult:
    outcome = service.test_connection(session, principal, connector_id)
    return ConnectionResult(ok=outcome.ok, message=outcome.message, code=outcome.code)


@router.post("/api/connectors/{connector_id}/sync", response_model=SyncRunOut)
def sync_connector(
    connector_id: str,
    principal: ConnectorsManager,
    session: DbSession,
    wait: bool = Query(True, description="false: queue the sync and answer 202 at once"),
) -> JSONResponse:
    """Import the calls since the last sync. With wait (the default) the answer is the
    sync's log entry: how many calls came in, or why it failed. Their processing is
    queued either way."""
    connector = service.get_connector(session, principal, connector_id)
    session.close()
    if not wait:
        enqueue_sync(connector.id, SyncTrigger.MANUAL)
        return JSONResponse({"success": True, "status": "queued"}, status_code=202)
    outcome = sync.sync_connector(connector.id, trigger=SyncTrigger.MANUAL)
    with session_scope() as s:
        from callscribe.connectors.models import SyncRun

        run = s.get(SyncRun, outcome.run_id)
        assert run is not None
        body = service.run_view(run).model_dump(mode="json")
    return JSONResponse(body)


@router.post("/api/connectors/{connector_id}/enable", response_model=ConnectorOut)
def enable_connector(
    connector_id: str,
    principal: ConnectorsManager,
    session: DbSession,
) -> ConnectorOut:
    connector = service.set_enabled(session, principal, connector_id, True)
    session.commit()
    return service.connector_view(connector)


@router.post("/api/connectors/{connector_id}/disable", response_model=ConnectorOut)
def disable_connector(
    connector_id: str,
    principal: ConnectorsManager,
    session: DbSession,
) -> ConnectorOut:
    """Stops polling and refuses its webhook; nothing is deleted."""
    connector = service.set_enabled(session, principal, connector_id, False)
    session.commit()
    return service.connector_view(connector)


@router.get("/api/connectors/{connector_id}/runs", response_model=SyncRunList)
def list_runs(
    connector_id: str,
    principal: ConnectorsManager,
    session: DbSession,
    limit: int = Query(50, ge=1, le=500),
) -> SyncRunList:
    return SyncRunList(
        runs=[
            service.run_view(r) for r in service.list_runs(session, principal, connector_id, limit)
        ]
    )


@router.get("/api/connectors/{connector_id}/webhook-secret", response_model=WebhookSecretOut)
def reveal_webhook_secret(
    connector_id: str,
    principal: ConnectorsManager,
    session: DbSession,
) -> WebhookSecretOut:
    """The shared secret to paste into the provider (admins and managers only)."""
    connector = service.get_connector(session, principal, connector_id)
    return WebhookSecretOut(
        url=service.webhook_url(connector),
        header=service.WEBHOOK_HEADER,
        secret=service.webhook_secret(connector),
    )


@router.post(
    "/api/connectors/{connector_id}/webhook-secret/rotate", response_model=WebhookSecretOut
)
def rotate_webhook_secret(
    connector_id: str,
    principal: ConnectorsManager,
    session: DbSession,
) -> WebhookSecretOut:
    """A new secret; the old one is refused from now on."""
    connector = service.rotate_webhook_secret(session, principal, connector_id)
    session.commit()
    return WebhookSecretOut(
        url=service.webhook_url(connector),
        header=service.WEBHOOK_HEADER,
        secret=service.webhook_secret(connector),
    )


@router.post(
    "/api/webhooks/cloudvoice/{connector_id}",
    status_code=202,
    response_model=WebhookAccepted,
    summary="CloudVoice real-time webhook (one finished call)",
)
async def cloudvoice_webhook(connector_id: str, request: Request) -> JSONResponse:
    """Body `{"run_id": "1234"}`, header `X-Callscribe-Secret`. Answers 202 at once; the
    call is fetched and processed in the background. Re-deliveries (same run id or same
    `X-Dograh-Delivery-Id`) answer 202 and change nothing."""
    body = await _read_limited(request, MAX_WEBHOOK_BODY)
    secret = request.headers.get(service.WEBHOOK_HEADER)
    delivery_id = request.headers.get("x-dograh-delivery-id")

    def record() -> tuple[str, bool, uuid.UUID]:
        with session_scope() as session:
            event, new = webhooks.receive_webhook(
                session, "cloudvoice", connector_id, secret, delivery_id, body
            )
            return event.status, new, event.id

    _status, new, event_id = await run_in_threadpool(record)
    if new:
        await run_in_threadpool(enqueue_import_after_commit, event_id)
    return JSONResponse(
        {"success": True, "status": "accepted" if new else "duplicate", "event_id": str(event_id)},
        status_code=202,
    )


MAX_PROVIDER_WEBHOOK_BODY = 512 * 1024  # a contact trace record with attributes fits


@router.post(
    "/api/webhooks/{connector_type}/{connector_id}",
    status_code=202,
    response_model=ProviderWebhookAccepted,
    summary="A provider's real-time webhook (Twilio, Aircall, RingCentral, ...)",
)
async def provider_webhook(
    connector_type: str, connector_id: str, request: Request
) -> JSONResponse:
    """The provider's own payload, verified its own way (see docs/connectors/<type>.md).
    Answers 202 at once; each call it names is fetched and processed in the background.
    A re-delivery answers 202 with status "duplicate" and changes nothing; an event we
    do not act on (a call ringing) answers 202 with status "ignored"."""
    body = await _read_limited(request, MAX_PROVIDER_WEBHOOK_BODY)
    query = request.url.query
    path = request.url.path
    webhook_request = WebhookRequest(
        url=f"{get_settings().public_url}{path}" + (f"?{query}" if query else ""),
        headers={k.lower(): v for k, v in request.headers.items()},
        body=body,
        content_type=request.headers.get("content-type", ""),
    )

    def record() -> tuple[list[tuple[str, bool]], WebhookDelivery]:
        with session_scope() as session:
            events, delivery = webhooks.receive_provider_webhook(
                session, connector_type, connector_id, webhook_request
            )
            return [(str(e.id), new) for e, new in events], delivery

    events, delivery = await run_in_threadpool(record)
    ignored = delivery.ignored
    for event_id, new in events:
        if new:
            await run_in_threadpool(enqueue_import_after_commit, uuid.UUID(event_id))
    if not events:
        status = "ignored"
    elif any(new for _, new in events):
        status = "accepted"
    else:
        status = "duplicate"
    return JSONResponse(
        {
            "success": True,
            "status": status,
            "event_ids": [e for e, _ in events],
            **({"reason": ignored} if ignored and not events else {}),
        },
        status_code=delivery.response_status,
        headers=delivery.response_headers,
    )


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    too_large = f"The webhook body is larger than {limit // 1024} KB."
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(too_large)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(too_large)
    return body

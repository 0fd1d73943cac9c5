"""Real-time deliveries: a provider's webhook is checked, recorded once (a re-delivery
finds the first event) and imported by a task after the commit."""

from __future__ import annotations

import json
import logging
import re
import uuid
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callscribe.connectors.base import CallRef, WebhookDelivery, WebhookRequest
from callscribe.connectors.importing import ConnectorSnapshot, ImportResult, import_call
from callscribe.connectors.models import Connector, EventStatus, InboundEvent, SyncRun
from callscribe.connectors.registry import get_connector_type
from callscribe.connectors.service import WEBHOOK_HEADER, client_for
from callscribe.db import session_scope, utcnow
from callscribe.errors import BadRequest, CallscribeError, NotFound, Unauthorized
from callscribe.security.crypto import constant_time_equals, decrypt_secret
from callscribe.settings import get_settings

log = logging.getLogger(__name__)

_RUN_ID = re.compile(r"^\d{1,19}$")


def receive_webhook(
    session: Session,
    connector_type: str,
    connector_id: str,
    secret: str | None,
    delivery_id: str | None,
    body: bytes,
) -> tuple[InboundEvent, bool]:
    """Check and record one delivery. Returns (event, new); a re-delivery (same run id or
    same delivery id) returns the first event and False. The caller commits, then
    enqueues `connectors.import_run` when new."""
    try:
        cid = uuid.UUID(connector_id)
    except ValueError as exc:
        raise NotFound("No such connector.") from exc
    connector = session.get(Connector, cid)
    if connector is None or connector.type != connector_type or not connector.enabled:
        raise NotFound("No such connector, or it is disabled.")
    expected = connector.webhook_secret_enc and decrypt_secret(connector.webhook_secret_enc)
    if not secret:
        raise Unauthorized(
            f"The {WEBHOOK_HEADER} header is missing. Set it in CloudVoice as a credential "
            'of type "custom header".'
        )
    if not expected or not constant_time_equals(secret.strip(), expected):
        raise Unauthorized(f"The {WEBHOOK_HEADER} header does not match this connector's secret.")
    run_id = _run_id_from(body)
    source = f"{connector.type}:{connector.id}"
    delivery = (delivery_id or "").strip()[:150] or None
    keys = [f"run:{run_id}"] + ([f"delivery:{delivery}"] if delivery else [])
    event = InboundEvent(
        company_id=connector.company_id,
        connector_id=connector.id,
        source=source,
        external_id=keys[0],
        call_ref=run_id,
        status="received",
        payload={"run_id": run_id, "delivery_id": delivery},
    )
    try:
        with session.begin_nested():
            session.add(event)
            session.flush()
            if delivery:
                session.add(
                    InboundEvent(
                        company_id=connector.company_id,
                        connector_id=connector.id,
                        source=source,
                        external_id=keys[1],
                        call_ref=run_id,
                        status="duplicate",  # a marker: the run's event does the work
                        payload={"run_event_id": str(event.id)},
                    )
                )
                session.flush()
    except IntegrityError:
        existing = session.scalars(
            select(InboundEvent)
            .where(InboundEvent.source == source, InboundEvent.external_id.in_(keys))
            .order_by(InboundEvent.created_at)
        ).first()
        if existing is None:
            raise
        return existing, _rearm_failed(session, existing)
    return event, True


def receive_provider_webhook(
    session: Session, connector_type: str, connector_id: str, request: WebhookRequest
) -> tuple[list[tuple[InboundEvent, bool]], WebhookDelivery]:
    """A delivery to any type but CloudVoice (whose run-id protocol is above): the type
        verifies it its own way and names the calls; one event row per call, unique per
        connector, so a re-delivery (or ten at once) finds the first. Returns the (event,
        new) pairs and the type's reading of the delivery (why nothing is imported, headers to
    answer with). The
        caller commits, then enqueues `connectors.import_run` for each new event."""
    try:
        cid = uuid.UUID(connector_id)
    except ValueError as exc:
        raise NotFound("No such connector.") from exc
    connector = session.get(Connector, cid)
    if connector is None or connector.type != connector_type or not connector.enabled:
        raise NotFound("No such connector, or it is disabled.")
    if not get_connector_type(connector.type).supports_webhook:
        raise NotFound(f"{connector.type} connectors take no real-time webhook.")
    secret = decrypt_secret(connector.webhook_secret_enc) if connector.webhook_secret_enc else ""
    delivery = client_for(connector).verify_webhook(request, secret)  # type: ignore[attr-defined]
    source = f"{connector.type}:{connector.id}"
    out: list[tuple[InboundEvent, bool]] = []
    for ref in delivery.refs:
        call_ref = ref.external_id[:200]
        key = f"call:{call_ref}"[:200]
        event = InboundEvent(
            company_id=connector.company_id,
            connector_id=connector.id,
            source=source,
            external_id=key,
            call_ref=call_ref,
            status="received",
            payload={
                "data": ref.data,
                "created_at": ref.created_at.isoformat() if ref.created_at else None,
                "updatable": ref.updatable,
                "delivery_id": (delivery.delivery_id or "")[:150] or None,
            },
        )
        try:
            with session.begin_nested():
                session.add(event)
                session.flush()
        except IntegrityError:
            existing = session.scalars(
                select(InboundEvent).where(
                    InboundEvent.source == source, InboundEvent.external_id == key
                )
            ).first()
            if existing is None:
                raise
            rearmed = _rearm_failed(session, existing) or _rearm_updated(session, existing, ref)
            out.append((existing, rearmed))
            continue
        out.append((event, True))
    return out, delivery


def _rearm_updated(session: Session, event: InboundEvent, ref: CallRef) -> bool:
    """A ticket's next delivery (a new comment) imports it again once the first import
    is done; a re-delivery while one is still running changes nothing. When the type
    gives the delivery a `version` (in `ref.data`: a digest of what the provider sent),
    the same version again is a re-delivery and changes nothing either."""
    if not ref.updatable or event.status not in ("imported", "duplicate"):
        return False
    payload = dict(event.payload or {})
    version = ref.data.get("version")
    if version is not None and (payload.get("data") or {}).get("version") == version:
        return False
    result = session.execute(
        update(InboundEvent)
        .where(InboundEvent.id == event.id, InboundEvent.status == event.status)
        .values(status="received", error=None, payload={**payload, "data": ref.data})
        .execution_options(synchronize_session=False)
    )
    return (result.rowcount or 0) == 1  # type: ignore[attr-defined]


def _rearm_failed(session: Session, event: InboundEvent) -> bool:
    """A re-delivery of a run whose import failed tries it again (once per delivery)."""
    if event.status != "failed" or not event.external_id.startswith(("run:", "call:")):
        return False
    result = session.execute(
        update(InboundEvent)
        .where(InboundEvent.id == event.id, InboundEvent.status == "failed")
        .values(status="received", error=None)
        .execution_options(synchronize_session=False)
    )
    return (result.rowcount or 0) == 1  # type: ignore[attr-defined]


def _run_id_from(body: bytes) -> str:
    try:
        payload = json.loads(body or b"")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(
            'The body is not JSON. Use the payload template {"run_id": "{{workflow_run_id}}"}.',
            code="malformed_body",
        ) from exc
    if not isinstance(payload, dict) or "run_id" not in payload:
        raise BadRequest(
            'The body has no run_id. Use the payload template {"run_id": "{{workflow_run_id}}"}.',
            code="malformed_body",
        )
    value = payload["run_id"]
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise BadRequest("run_id must be the run's number.", code="malformed_body")
    run_id = str(value).strip()
    if not _RUN_ID.match(run_id):
        raise BadRequest(
            f"run_id must be the run's number, got {run_id[:40]!r}: check that the template "
            "uses {{workflow_run_id}}.",
            code="malformed_body",
        )
    return str(int(run_id))


def _claim(event_id: uuid.UUID) -> bool:
    """Take the event for this import: `received`, or `importing` by a worker that died
    (claimed more than STALE_AFTER_S ago). False when it is done or another import has
    it, so a second job for the same event (a sweep's, a re-delivery's) does nothing."""
    now = utcnow()
    stale = now - timedelta(seconds=get_settings().STALE_AFTER_S)
    with session_scope() as session:
        result = session.execute(
            update(InboundEvent)
            .where(
                InboundEvent.id == event_id,
                or_(
                    InboundEvent.status == EventStatus.RECEIVED,
                    and_(
                        InboundEvent.status == EventStatus.IMPORTING,
                        InboundEvent.processed_at < stale,
                    ),
                ),
            )
            .values(status=EventStatus.IMPORTING, processed_at=now)
            .execution_options(synchronize_session=False)
        )
        return (result.rowcount or 0) == 1  # type: ignore[attr-defined]


def find_stalled_events(session: Session, queued: set[uuid.UUID] | None) -> list[uuid.UUID]:
    """Events whose import job was lost: `received` for longer than STALE_AFTER_S and
    not waiting in the queue (`queued`; None: unknown, the queue is too long to read),
    or `importing` by a worker that died. A job lost with a flushed queue, an enqueue
    that failed after the commit, a worker killed mid-import: a re-delivery finds the
    event and enqueues nothing, so without this the call would never come."""
    stale = utcnow() - timedelta(seconds=get_settings().STALE_AFTER_S)
    rows = session.execute(
        select(InboundEvent.id, InboundEvent.status)
        .where(
            or_(
                and_(InboundEvent.status == EventStatus.RECEIVED, InboundEvent.created_at < stale),
                and_(
                    InboundEvent.status == EventStatus.IMPORTING,
                    InboundEvent.processed_at < stale,
                ),
            )
        )
        .order_by(InboundEvent.created_at)
        .limit(1000)
    ).all()
    return [
        event_id
        for event_id, status in rows
        if status == EventStatus.IMPORTING or queued is None or event_id not in queued
    ]


def import_event(event_id: uuid.UUID | str) -> str:
    """Fetch and import the run of one delivery; returns the event's final status."""
    eid = uuid.UUID(str(event_id))
    if not _claim(eid):
        with session_scope() as session:
            event = session.get(InboundEvent, eid)
            return event.status if event else "missing"
    with session_scope() as session:
        event = session.get(InboundEvent, eid)
        if event is None:
            return "missing"
        connector = session.get(Connector, event.connector_id)
        if connector is None or not connector.enabled:
            event.status, event.processed_at = "skipped", utcnow()
            event.error = "The connector was disabled before the call was fetched."
            return "skipped"
        snapshot = ConnectorSnapshot.of(connector)
        label = get_connector_type(connector.type).label
        run = SyncRun(
            company_id=connector.company_id,
            connector_id=connector.id,
            trigger="webhook",
            status="running",
            seen=1,
        )
        session.add(run)
        session.flush()
        run_id, ref = run.id, _ref_of(event)
    try:
        result = import_call(snapshot, ref)
    except CallscribeError as exc:
        result = ImportResult("failed", error=snapshot.client.redact(exc.message))
    except Exception as exc:
        log.error("import of delivery %s broke: %s", eid, type(exc).__name__)
        result = ImportResult("failed", error=f"Internal error ({type(exc).__name__}).")
    if result.status == "pending":
        result = ImportResult(
            "failed", error=f"The call is still in progress at {label}; the next sync imports it."
        )
    with session_scope() as session:
        event = session.get(InboundEvent, eid)
        log_row = session.get(SyncRun, run_id)
        assert event is not None and log_row is not None
        event.status = "imported" if result.status in ("imported", "updated") else result.status
        event.call_id, event.error, event.processed_at = result.call_id, result.error, utcnow()
        log_row.status = "failed" if result.status == "failed" else "succeeded"
        log_row.imported = int(result.status in ("imported", "updated"))
        log_row.duplicates = int(result.status == "duplicate")
        log_row.failed = int(result.status == "failed")
        log_row.error = result.error
        log_row.finished_at = utcnow()
    return result.status


def _ref_of(event: InboundEvent) -> CallRef:
    payload = event.payload or {}
    created = payload.get("created_at")
    return CallRef(
        event.call_ref,
        created_at=datetime.fromisoformat(created) if isinstance(created, str) else None,
        data=payload.get("data") or {},
        updatable=bool(payload.get("updatable")),
    )

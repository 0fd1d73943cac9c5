"""Syncs: list the calls since the connector's cursor and import each one not seen yet.

A sync is long-running (downloads), so like the pipeline it opens its own sessions and
commits after each imported call; the cursor and the sync's status are written once at
the end, and the cursor only moves when the sync succeeded."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from callscribe.connectors.importing import ConnectorSnapshot, import_call
from callscribe.connectors.models import Connector, SyncRun
from callscribe.connectors.service import SYNC_LEASE, is_syncing
from callscribe.db import session_scope, utcnow
from callscribe.errors import CallscribeError, Conflict, NotFound

log = logging.getLogger(__name__)

MAX_ERRORS_SHOWN = 3


@dataclass
class SyncOutcome:
    run_id: uuid.UUID
    status: str
    seen: int = 0
    imported: int = 0
    duplicates: int = 0
    pending: int = 0
    failed: int = 0
    error: str | None = None
    call_ids: list[uuid.UUID] = field(default_factory=list)


def _claim_sync(session: Session, connector_id: uuid.UUID) -> bool:
    now = utcnow()
    result = session.execute(
        update(Connector)
        .where(
            Connector.id == connector_id,
            or_(Connector.sync_lease_at.is_(None), Connector.sync_lease_at < now - SYNC_LEASE),
        )
        .values(sync_lease_at=now)
        .execution_options(synchronize_session=False)
    )
    return (result.rowcount or 0) == 1  # type: ignore[attr-defined]


def sync_connector(connector_id: uuid.UUID | str, *, trigger: str = "manual") -> SyncOutcome:
    """Import the calls since the cursor. Conflict when the connector is disabled or a
    sync of it is running; a provider failure is a `failed` sync (logged, cursor kept)."""
    cid = uuid.UUID(str(connector_id))
    with session_scope() as session:
        connector = session.get(Connector, cid)
        if connector is None:
            raise NotFound("Connector not found.")
        if not connector.enabled:
            raise Conflict(
                "The connector is disabled; enable it to sync.", code="connector_disabled"
            )
        if not _claim_sync(session, cid):
            raise Conflict("A sync of this connector is already running.", code="sync_running")
        run = SyncRun(
            company_id=connector.company_id,
            connector_id=cid,
            trigger=trigger,
            status="running",
            cursor_before=connector.cursor,
        )
        session.add(run)
        session.flush()
        outcome = SyncOutcome(run_id=run.id, status="running")
        cursor = connector.cursor
        try:
            snapshot = ConnectorSnapshot.of(connector)
        except CallscribeError as exc:  # undecryptable credentials
            snapshot, outcome.status, outcome.error = None, "failed", exc.message
    new_cursor = cursor
    if snapshot is not None:
        new_cursor = _run_sync(snapshot, cursor, outcome)
    with session_scope() as session:
        done = session.get(SyncRun, outcome.run_id)
        connector = session.get(Connector, cid)
        assert done is not None
        run = done
        run.status = outcome.status
        run.seen, run.imported, run.duplicates = outcome.seen, outcome.imported, outcome.duplicates
        run.pending, run.failed, run.error = outcome.pending, outcome.failed, outcome.error
        run.finished_at = utcnow()
        run.cursor_after = new_cursor
        if connector is not None:
            if outcome.status == "succeeded":
                connector.cursor = new_cursor
            connector.sync_lease_at = None
            connector.last_sync_at = run.finished_at
            connector.last_sync_status = outcome.status
            connector.last_sync_error = outcome.error
            connector.last_sync_imported = outcome.imported
    log.info(
        "connector %s sync %s: %d seen, %d imported, %d failed",
        cid,
        outcome.status,
        outcome.seen,
        outcome.imported,
        outcome.failed,
    )
    return outcome


def _run_sync(
    connector: ConnectorSnapshot, cursor: dict[str, Any] | None, outcome: SyncOutcome
) -> dict[str, Any] | None:
    client = connector.client
    last_seen: datetime | None = None
    earliest_pending: datetime | None = None
    page_cursor: dict[str, Any] | None = None
    problems: list[str] = []
    try:
        for page in client.list_calls(cursor):
            if page.cursor is not None:
                page_cursor = page.cursor
            for ref in page.calls:
                outcome.seen += 1
                result = import_call(connector, ref)
                if result.status in ("imported", "updated"):
                    outcome.imported += 1
                    assert result.call_id is not None
                    outcome.call_ids.append(result.call_id)
                elif result.status == "duplicate":
                    outcome.duplicates += 1
                elif result.status == "pending":
                    outcome.pending += 1
                    if ref.created_at and (
                        earliest_pending is None or ref.created_at < earliest_pending
                    ):
                        earliest_pending = ref.created_at
                else:
                    outcome.failed += 1
                    problems.append(result.error or "unknown error")
                if ref.created_at and (last_seen is None or ref.created_at > last_seen):
                    last_seen = ref.created_at
    except CallscribeError as exc:
        outcome.status = "failed"
        outcome.error = client.redact(exc.message)
        return cursor
    except Exception as exc:
        log.error(
            "connector %s sync broke: %s: %s",
            connector.id,
            type(exc).__name__,
            client.redact(str(exc))[:300],
        )
        outcome.status = "failed"
        outcome.error = f"Internal error during the sync ({type(exc).__name__}); try again."
        return cursor
    outcome.status = "succeeded"
    if problems:
        shown = "; ".join(problems[:MAX_ERRORS_SHOWN])
        more = (
            f" (and {len(problems) - MAX_ERRORS_SHOWN} more)"
            if len(problems) > MAX_ERRORS_SHOWN
            else ""
        )
        outcome.error = f"{len(problems)} call(s) could not be imported: {shown}{more}"
    if page_cursor is not None and earliest_pending is None:
        return page_cursor  # the provider's own cursor (calls in progress: the dates')
    if earliest_pending is not None and (last_seen is None or earliest_pending < last_seen):
        last_seen = earliest_pending  # calls still in progress are listed again next time
    return client.cursor_for(last_seen) if last_seen is not None else cursor


def due_connectors(session: Session) -> list[uuid.UUID]:
    """Enabled connectors whose poll interval has passed since their last sync, and that
    are not syncing now."""
    now = utcnow()
    due = []
    for connector in session.scalars(select(Connector).where(Connector.enabled.is_(True))):
        if is_syncing(connector):
            continue
        last = connector.last_sync_at
        if last is None or last + timedelta(seconds=connector.poll_interval_s) <= now:
            due.append(connector.id)
    return due

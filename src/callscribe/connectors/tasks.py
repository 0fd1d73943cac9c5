"""Queue tasks of the connectors domain (thin wrappers over the service)."""

from __future__ import annotations

import logging
import uuid

from callscribe.connectors import sync as syncs
from callscribe.connectors import webhooks
from callscribe.connectors.models import SyncTrigger
from callscribe.db import session_scope
from callscribe.errors import Conflict, NotFound
from callscribe.queue import configure_queue, huey, queued_args

log = logging.getLogger(__name__)


@huey.task(name="connectors.sync")
def sync(connector_id: str, trigger: str = SyncTrigger.SCHEDULE) -> str:
    try:
        return syncs.sync_connector(connector_id, trigger=trigger).status
    except (Conflict, NotFound) as exc:  # disabled, already syncing, deleted meanwhile
        log.info("connector %s not synced: %s", connector_id, exc.message)
        return "skipped"  # not a run: no SyncStatus


IMPORT_TASK = "connectors.import_run"


@huey.task(name=IMPORT_TASK)
def import_run(event_id: str) -> str:
    return webhooks.import_event(event_id)


def enqueue_due_syncs() -> list[uuid.UUID]:
    """Sync each enabled connector whose poll interval has passed (a sweep, run every
    minute by the worker)."""
    configure_queue()
    with session_scope() as session:
        due = syncs.due_connectors(session)
    for connector_id in due:
        sync(str(connector_id), SyncTrigger.SCHEDULE)
    return due


def enqueue_sync(connector_id: uuid.UUID, trigger: str = SyncTrigger.MANUAL) -> None:
    configure_queue()
    sync(str(connector_id), trigger)


def enqueue_import(event_id: uuid.UUID) -> None:
    configure_queue()
    import_run(str(event_id))


def enqueue_import_after_commit(event_id: uuid.UUID) -> None:
    """For a webhook whose event is committed: a queue that is down now (Redis
    restarting) costs the provider no error and us no call; the sweep enqueues it."""
    try:
        enqueue_import(event_id)
    except Exception:
        log.exception("enqueueing the import of event %s failed; the sweep retries it", event_id)


def sweep_stalled_events() -> int:
    """Re-enqueue the imports of inbound events whose job was lost."""
    with session_scope() as session:
        ids = webhooks.find_stalled_events(session, queued_args(IMPORT_TASK))
    if ids:
        log.info("connector sweep: re-enqueueing %d stalled inbound event(s)", len(ids))
        for event_id in ids:
            enqueue_import(event_id)
    return len(ids)

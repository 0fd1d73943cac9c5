"""Queue tasks of the connectors domain (thin wrappers over the service)."""

from __future__ import annotations

import logging
import uuid

from callscribe.connectors import sync as syncs
from callscribe.connectors import webhooks
from callscribe.connectors.models import SyncTrigger
from callscribe.db import session_scope
from callscribe.errors import Conflict, NotFound
from callscribe.queue import configure_queue, huey

log = logging.getLogger(__name__)


@huey.task(name="connectors.sync")
def sync(connector_id: str, trigger: str = SyncTrigger.SCHEDULE) -> str:
    try:
        return syncs.sync_connector(connector_id, trigger=trigger).status
    except (Conflict, NotFound) as exc:  # disabled, already syncing, deleted meanwhile
        log.info("connector %s not synced: %s", connector_id, exc.message)
        return "skipped"  # not a run: no SyncStatus


@huey.task(name="connectors.import_run")
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

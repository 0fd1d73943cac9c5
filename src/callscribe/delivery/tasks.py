"""Queue tasks of delivery: one `delivery.deliver` job per delivery; a job makes one
attempt and schedules the next when a retry is due. `on_call_completed` is the outbox
consumer of `call.completed` (wired in worker.py); `sweep_stalled` is a sweep."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable

from sqlalchemy.orm import Session

from callscribe.db import after_commit, session_scope
from callscribe.delivery import service
from callscribe.events import Event
from callscribe.queue import configure_queue, huey

log = logging.getLogger(__name__)


@huey.task(name="delivery.deliver")
def deliver(delivery_id: str) -> None:
    delay = service.attempt_delivery(delivery_id)
    if delay is not None:
        deliver.schedule(args=(delivery_id,), delay=delay)


def sweep_stalled() -> int:
    """Re-enqueue deliveries whose job was lost."""
    with session_scope() as session:
        ids = service.find_stalled_deliveries(session)
    if ids:
        log.info("delivery sweep: re-enqueueing %d stalled deliveries", len(ids))
        enqueue_deliveries(ids)
    return len(ids)


def enqueue_deliveries(delivery_ids: Iterable[uuid.UUID]) -> None:
    """Enqueue after the rows are committed."""
    configure_queue()
    for delivery_id in delivery_ids:
        deliver(str(delivery_id))


def on_tracker_matched(session: Session, event: Event) -> None:
    """A tracker matched in an engagement: one delivery per automation that subscribes
    to `tracker.matched`, its body the call's with the trackers that matched."""
    ids = service.create_deliveries_for_call(
        session,
        uuid.UUID(event.payload["call_id"]),
        event=event.type,
        extra={"trackers": event.payload.get("trackers") or []},
    )
    if ids:
        after_commit(session, lambda: enqueue_deliveries(ids))


def on_call_completed(session: Session, event: Event) -> None:
    """One delivery per matching automation, created in the dispatcher's transaction
    and enqueued after it commits. Handed the same event twice, it creates nothing new:
    a delivery is unique per (automation, call, event type)."""
    ids = service.create_deliveries_for_call(session, uuid.UUID(event.payload["call_id"]))
    if ids:
        after_commit(session, lambda: enqueue_deliveries(ids))

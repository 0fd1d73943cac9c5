"""Queue tasks of delivery: on `call.completed`, one `delivery.deliver` job per matching
automation; a job makes one attempt and schedules the next when a retry is due."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable

from huey import crontab

from callscribe.db import session_scope
from callscribe.delivery import service
from callscribe.events import subscribe
from callscribe.queue import configure_queue, huey

log = logging.getLogger(__name__)


@huey.task(name="delivery.deliver")
def deliver(delivery_id: str) -> None:
    delay = service.attempt_delivery(delivery_id)
    if delay is not None:
        deliver.schedule(args=(delivery_id,), delay=delay)


@huey.periodic_task(crontab(minute="*"), name="delivery.sweep")
def sweep() -> None:
    with session_scope() as session:
        ids = service.find_stalled_deliveries(session)
    if ids:
        log.info("delivery sweep: re-enqueueing %d stalled deliveries", len(ids))
        enqueue_deliveries(ids)


def enqueue_deliveries(delivery_ids: Iterable[uuid.UUID]) -> None:
    """Enqueue after the rows are committed."""
    configure_queue()
    for delivery_id in delivery_ids:
        deliver(str(delivery_id))


@subscribe("call.completed")
def on_call_completed(call_id: uuid.UUID | str, **_: object) -> None:
    """Runs in the worker that completed the call, after the call is committed: a
    query and some enqueues, nothing that waits on a receiver."""
    with session_scope() as session:
        ids = service.create_deliveries_for_call(session, uuid.UUID(str(call_id)))
    enqueue_deliveries(ids)

"""Queue tasks of the calls domain (thin wrappers over the service)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from callscribe.calls import service
from callscribe.db import session_scope
from callscribe.queue import configure_queue, huey


@huey.task(name="calls.process")
def process_call(call_id: str) -> str:
    return service.process_call(call_id)


def enqueue_calls(call_ids: Iterable[uuid.UUID], *, mark: bool = True) -> None:
    """Enqueue after the rows are committed. `mark` records the enqueue time (the sweep
    uses it to tell a lost job from a queued one)."""
    ids = list(call_ids)
    configure_queue()
    if mark and ids:
        with session_scope() as session:
            service.mark_enqueued(session, ids)
    for call_id in ids:
        process_call(str(call_id))

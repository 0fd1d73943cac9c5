"""Queue side of the calls domain: enqueue processing (the pipeline's task, by name:
calls sits below the pipeline) and read which calls wait in the queue."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from callscribe.calls import service
from callscribe.db import session_scope
from callscribe.queue import configure_queue, enqueue_named, huey

PROCESS_TASK = "pipeline.process"  # declared by callscribe.pipeline.tasks


def enqueue_calls(call_ids: Iterable[uuid.UUID], *, mark: bool = True) -> None:
    """Enqueue after the rows are committed. `mark` records the enqueue time (the sweep
    uses it to tell a lost job from a queued one)."""
    ids = list(call_ids)
    configure_queue()
    if mark and ids:
        with session_scope() as session:
            service.mark_enqueued(session, ids)
    for call_id in ids:
        enqueue_named(PROCESS_TASK, str(call_id))


MAX_PENDING_SCAN = 20_000  # beyond this the sweep stops reading the queue's contents


def queued_call_ids() -> set[uuid.UUID] | None:
    """Ids of calls whose processing job waits in the queue (None if the queue is too
    long to read), so the sweep does not pile duplicates onto a long backlog."""
    configure_queue()
    if huey.pending_count() > MAX_PENDING_SCAN:
        return None
    ids = set()
    for task in huey.pending():
        if task.name == PROCESS_TASK and task.args:
            try:
                ids.add(uuid.UUID(str(task.args[0])))
            except ValueError:
                continue
    return ids

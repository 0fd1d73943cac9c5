"""Queue side of the calls domain: enqueue processing (the pipeline's task, by name:
calls sits below the pipeline) and read which calls wait in the queue."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from callscribe.calls import service
from callscribe.calls.service import PROCESS_TASK
from callscribe.db import session_scope
from callscribe.queue import configure_queue, huey


def enqueue_calls(call_ids: Iterable[uuid.UUID], *, mark: bool = True) -> None:
    """Enqueue calls whose rows are committed, in a transaction of its own (the sweep,
    scripts). Code that holds a session uses service.request_processing instead."""
    ids = list(call_ids)
    if not ids:
        return
    with session_scope() as session:
        service.request_processing(session, ids, mark=mark)


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

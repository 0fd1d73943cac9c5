"""Queue side of the calls domain: enqueue processing (the pipeline's task, by name:
calls sits below the pipeline) and read which calls wait in the queue."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from callscribe.calls import service
from callscribe.calls.service import PROCESS_TASK
from callscribe.db import session_scope
from callscribe.queue import queued_args


def enqueue_calls(call_ids: Iterable[uuid.UUID], *, mark: bool = True) -> None:
    """Enqueue calls whose rows are committed, in a transaction of its own (the sweep,
    scripts). Code that holds a session uses service.request_processing instead."""
    ids = list(call_ids)
    if not ids:
        return
    with session_scope() as session:
        service.request_processing(session, ids, mark=mark)


def queued_call_ids() -> set[uuid.UUID] | None:
    """Ids of calls whose processing job waits in the queue (None if the queue is too
    long to read), so the sweep does not pile duplicates onto a long backlog."""
    return queued_args(PROCESS_TASK)

"""The worker: queue consumer threads, the outbox's consumers, and the one sweep that
repairs what a crash or a flushed queue left behind. Runs inside `callscribe serve`
(embedded) or alone as `callscribe worker`.

Everything a worker runs is listed here, explicitly: the task modules, which consumers
each outbox event type goes to, and the sweeps.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from callscribe import events
from callscribe.analytics import readmodel
from callscribe.calls import service as calls
from callscribe.calls.tasks import enqueue_calls, queued_call_ids
from callscribe.connectors import tasks as connectors_tasks
from callscribe.db import migrate, session_scope
from callscribe.delivery import tasks as delivery_tasks
from callscribe.ingest import tasks as ingest_tasks
from callscribe.ingest.zipbatch import tasks as zipbatch_tasks
from callscribe.observability import REQUEST_ID, new_request_id
from callscribe.pipeline import tasks as pipeline_tasks
from callscribe.queue import configure_queue, start_consumer, stop_consumer
from callscribe.retention import tasks as retention_tasks
from callscribe.reviews import tasks as reviews_tasks
from callscribe.search import tasks as search_tasks
from callscribe.settings import get_settings
from callscribe.storage.staging import sweep_staging

log = logging.getLogger(__name__)

# The modules whose @huey.task functions a consumer must know (importing worker.py
# imports them: any process that enqueues or consumes goes through the shell).
TASK_MODULES: tuple[ModuleType, ...] = (
    pipeline_tasks,
    delivery_tasks,
    connectors_tasks,
    ingest_tasks,
    zipbatch_tasks,
    search_tasks,
    reviews_tasks,
    retention_tasks,
)

# outbox event type -> consumers; each must be idempotent on the event id
CONSUMERS: dict[str, tuple[events.Consumer, ...]] = {
    events.CALL_COMPLETED: (delivery_tasks.on_call_completed,),
    events.TRACKER_MATCHED: (delivery_tasks.on_tracker_matched,),
}


def sweep_lost_calls() -> int:
    """Re-enqueue calls whose job was lost (worker crash, flushed queue)."""
    queued = queued_call_ids()
    with session_scope() as session:
        ids = calls.find_lost_calls(session, queued)
    if ids:
        log.info("sweep: re-enqueueing %d lost call(s)", len(ids))
        enqueue_calls(ids, mark=False)
    return len(ids)


def sweep_connectors() -> int:
    return len(connectors_tasks.enqueue_due_syncs())


@dataclass(frozen=True)
class Sweep:
    name: str
    run: Callable[[], int]  # returns how many things it re-enqueued or handed over
    every_s: float | None = None  # None: every SWEEP_INTERVAL_S


SWEEPS: tuple[Sweep, ...] = (
    Sweep("lost calls", sweep_lost_calls),
    Sweep("outbox", events.dispatch_pending),
    Sweep("stalled deliveries", delivery_tasks.sweep_stalled, every_s=60),
    Sweep("connector polling", sweep_connectors, every_s=60),
    Sweep("stalled inbound events", connectors_tasks.sweep_stalled_events),
    Sweep("stale staging files", sweep_staging, every_s=600),
    Sweep("expired uploads", ingest_tasks.sweep_expired_uploads, every_s=3600),
    Sweep("stalled ingest batches", zipbatch_tasks.sweep_stalled_batches, every_s=60),
    Sweep("unindexed turns", search_tasks.sweep_unindexed, every_s=300),
    Sweep("stalled auto reviews", reviews_tasks.sweep_stalled, every_s=300),
    # the analytical read model (CALLSCRIBE_ANALYTICS_READ_MODEL=duckdb): every sweep looks,
    # it refreshes once ANALYTICS_REFRESH_S have passed since the last refresh
    Sweep("analytics read model", readmodel.refresh_due, every_s=5),
    Sweep("retention", retention_tasks.sweep_retention, every_s=retention_tasks.DAILY_S),
)


def load_tasks() -> tuple[ModuleType, ...]:
    """Point the queue at its storage, with every task module loaded (imported above)."""
    configure_queue()
    return TASK_MODULES


def wire() -> None:
    """Make this process a dispatcher of outbox events (idempotent)."""
    configure_queue()
    events.set_consumers(CONSUMERS)


def sweep_once(due: Callable[[Sweep], bool] = lambda _sweep: True) -> int:
    """Run every (due) sweep once; one failing does not stop the others. Returns the
    total they re-enqueued or dispatched."""
    total = 0
    for sweep in SWEEPS:
        if not due(sweep):
            continue
        # one id per sweep run: its log lines and the tasks it enqueues share it
        token = REQUEST_ID.set(new_request_id())
        try:
            total += sweep.run()
        except Exception:
            log.exception("sweep %r failed", sweep.name)
        finally:
            REQUEST_ID.reset(token)
    return total


class WorkerRunner:
    def __init__(self, workers: int | None = None):
        self.workers = workers
        self._stop = threading.Event()
        self._consumer = None
        self._sweeper: threading.Thread | None = None

    def start(self) -> None:
        migrate()
        wire()
        self._consumer = start_consumer(self.workers)
        self._sweeper = threading.Thread(target=self._sweep_loop, name="sweeper", daemon=True)
        self._sweeper.start()

    def _sweep_loop(self) -> None:
        interval = get_settings().SWEEP_INTERVAL_S
        last_run: dict[str, float] = {}

        def due(sweep: Sweep) -> bool:
            now = time.monotonic()
            every = sweep.every_s or interval
            if sweep.name in last_run and now - last_run[sweep.name] < every:
                return False
            last_run[sweep.name] = now
            return True

        while True:
            sweep_once(due)
            if self._stop.wait(interval):
                return

    def stop(self) -> None:
        self._stop.set()
        if self._consumer is not None:
            stop_consumer(self._consumer)
        if self._sweeper is not None:
            self._sweeper.join(timeout=5)

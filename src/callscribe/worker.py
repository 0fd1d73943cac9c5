"""The queue consumer plus the periodic sweep that re-enqueues lost work. Runs inside
`callscribe serve` (embedded) or alone as `callscribe worker`."""

from __future__ import annotations

import logging
import threading

from callscribe.db import migrate, session_scope
from callscribe.queue import configure_queue, start_consumer, stop_consumer
from callscribe.settings import get_settings

log = logging.getLogger(__name__)


def sweep_once() -> int:
    """Re-enqueue calls whose job was lost (worker crash, flushed queue)."""
    from callscribe.calls import service as calls
    from callscribe.calls.tasks import enqueue_calls, queued_call_ids

    queued = queued_call_ids()
    with session_scope() as session:
        ids = calls.find_lost_calls(session, queued)
    if ids:
        log.info("sweep: re-enqueueing %d lost call(s)", len(ids))
        enqueue_calls(ids, mark=False)
    return len(ids)


class WorkerRunner:
    def __init__(self, workers: int | None = None):
        self.workers = workers
        self._stop = threading.Event()
        self._consumer = None
        self._sweeper: threading.Thread | None = None

    def start(self) -> None:
        migrate()
        configure_queue()
        self._consumer = start_consumer(self.workers)
        self._sweeper = threading.Thread(target=self._sweep_loop, name="sweeper", daemon=True)
        self._sweeper.start()

    def _sweep_loop(self) -> None:
        interval = get_settings().SWEEP_INTERVAL_S
        while True:
            try:
                sweep_once()
            except Exception:
                log.exception("sweep failed")
            if self._stop.wait(interval):
                return

    def stop(self) -> None:
        self._stop.set()
        if self._consumer is not None:
            stop_consumer(self._consumer)
        if self._sweeper is not None:
            self._sweeper.join(timeout=5)

"""The Huey instance. SQLite storage in the data dir by default; Redis when
CALLSCRIBE_REDIS_URL is set. Tasks live in each domain's tasks.py and are named
`domain.verb`; the shell (worker.py) imports the task modules, listed there.

Every task carries a request id: the one of the request (or task) that enqueued it, a
fresh one when nothing did (a sweep, a script). While a consumer runs the task that id
is the current one (observability.REQUEST_ID), so its log lines show it."""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

from huey import Huey
from huey.api import Task
from huey.consumer import Consumer
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage

from callscribe.db import private_file
from callscribe.observability import REQUEST_ID, new_request_id
from callscribe.settings import Settings, get_settings

log = logging.getLogger(__name__)

_REQUEST_ID_ATTR = "callscribe_request_id"


def task_request_id(task: Task) -> str | None:
    return getattr(task, _REQUEST_ID_ATTR, None)


class RequestIdHuey(Huey):  # type: ignore[misc]
    """Huey whose messages carry the enqueuing request's id next to Huey's own message
    (a dict around it, so messages queued by an older version still load), and that
    makes it the current request id while the task runs. A retry or a re-schedule is
    the same task object: it keeps its id."""

    def serialize_task(self, task: Task) -> bytes:
        request_id = task_request_id(task) or REQUEST_ID.get() or new_request_id()
        setattr(task, _REQUEST_ID_ATTR, request_id)
        message = self._registry.create_message(task)
        return self.serializer.serialize({"request_id": request_id, "message": message})

    def deserialize_task(self, data: bytes) -> Task:
        payload = self.serializer.deserialize(data)
        request_id = None
        if isinstance(payload, dict):
            request_id, payload = payload.get("request_id"), payload["message"]
        task = self._registry.create_task(payload)
        setattr(task, _REQUEST_ID_ATTR, request_id)
        return task

    def execute(self, task: Task, timestamp: Any = None) -> Any:
        # immediate mode runs in the enqueuer's context: it keeps the current id
        request_id = task_request_id(task) or REQUEST_ID.get() or new_request_id()
        setattr(task, _REQUEST_ID_ATTR, request_id)
        token = REQUEST_ID.set(request_id)
        try:
            return super().execute(task, timestamp)
        finally:
            REQUEST_ID.reset(token)


# One instance for the process; `configure_queue` points it at the configured storage.
huey = RequestIdHuey(
    "callscribe", immediate=False, results=False, utc=True, storage_class=MemoryStorage
)
_configured_for: tuple | None = None
_lock = threading.Lock()


def configure_queue(settings: Settings | None = None) -> Huey:
    global _configured_for
    settings = settings or get_settings()
    key = (
        settings.REDIS_URL,
        settings.QUEUE_NAME,
        str(settings.DATA_DIR.resolve()),
        settings.QUEUE_IMMEDIATE,
    )
    with _lock:
        if key == _configured_for:
            return huey
        if settings.REDIS_URL:
            huey.storage = RedisStorage(settings.QUEUE_NAME, url=settings.REDIS_URL)
        else:
            path = (settings.DATA_DIR / "queue.db").resolve()
            private_file(path)  # 0600 before Huey's sqlite3 creates it
            huey.storage = SqliteStorage(settings.QUEUE_NAME, filename=str(path))
        huey.immediate = settings.QUEUE_IMMEDIATE
        _configured_for = key
    return huey


def enqueue_named(name: str, *args: Any) -> None:
    """Enqueue a task by its `domain.verb` name, for a caller in a layer below the
    task's module (a domain starting the pipeline). The shell has imported the module."""
    configure_queue()
    for task_class in huey._registry._registry.values():
        if task_class.__name__ == name:
            huey.enqueue(task_class(args=args))
            return
    raise RuntimeError(f"Task {name} is not loaded in this process (see worker.TASK_MODULES).")


MAX_PENDING_SCAN = 20_000  # beyond this a sweep stops reading the queue's contents


def queued_args(name: str) -> set[uuid.UUID] | None:
    """First arguments (ids) of the `name` jobs waiting in the queue, or None when the
    queue is too long to read: a sweep skips what is still queued instead of piling a
    second job onto a backlog."""
    configure_queue()
    if huey.pending_count() > MAX_PENDING_SCAN:
        return None
    ids = set()
    for task in huey.pending():
        if task.name == name and task.args:
            try:
                ids.add(uuid.UUID(str(task.args[0])))
            except ValueError:
                continue
    return ids


def start_consumer(workers: int | None = None) -> Consumer:
    """Start consumer threads in this process (non-blocking). `stop_consumer` ends them."""
    settings = get_settings()
    configure_queue(settings)
    consumer = huey.create_consumer(
        workers=workers or settings.QUEUE_WORKERS,
        worker_type="thread",
        periodic=True,
        initial_delay=0.05,
        max_delay=1.0,
        check_worker_health=True,
        # stop() waits this long for running tasks; the threads are daemons, a task cut
        # off keeps its lease until STALE_AFTER_S and the sweep re-runs it
        shutdown_timeout=settings.SHUTDOWN_GRACE_S,
    )
    # The host process (uvicorn in `serve`, `callscribe worker`) handles SIGTERM/SIGINT
    # and stops the consumer itself; Huey's own handlers would replace uvicorn's, and
    # nothing runs Huey's loop to act on them (issue 17 #4: serve ignored Ctrl-C).
    consumer._set_signal_handlers = lambda: None  # type: ignore[method-assign]
    consumer.start()
    return consumer


def stop_consumer(consumer: Consumer) -> None:
    consumer.stop(graceful=True)

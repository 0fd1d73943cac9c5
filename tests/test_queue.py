"""The queue's messages carry the request id of whoever enqueued them, and a consumer
runs each task under that id (what the task logs shows it)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest
from huey.api import Task
from huey.exceptions import RetryTask
from huey.storage import MemoryStorage

from callscribe.observability import REQUEST_ID
from callscribe.queue import RequestIdHuey, task_request_id

HEX32 = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture
def queue() -> Iterator[tuple[RequestIdHuey, list[str | None], Task]]:
    huey = RequestIdHuey("t", results=False, utc=True, storage_class=MemoryStorage)
    seen: list[str | None] = []

    @huey.task(name="test.record")
    def record(fail_first: bool = False) -> None:
        seen.append(REQUEST_ID.get())
        logging.getLogger("callscribe.test").info("task ran")
        if fail_first and len(seen) == 1:
            raise RetryTask()

    yield huey, seen, record


def _run_all(huey: RequestIdHuey) -> None:
    while (task := huey.dequeue()) is not None:
        huey.execute(task)


def test_task_runs_under_the_request_id_it_was_enqueued_with(queue) -> None:  # type: ignore[no-untyped-def]
    huey, seen, record = queue
    token = REQUEST_ID.set("abc")
    try:
        record()
    finally:
        REQUEST_ID.reset(token)
    (pending,) = huey.pending()
    assert task_request_id(pending) == "abc"
    assert REQUEST_ID.get() is None
    _run_all(huey)
    assert seen == ["abc"]
    assert REQUEST_ID.get() is None  # reset after the task


def test_tasks_enqueued_outside_a_request_get_a_fresh_id_each(queue) -> None:  # type: ignore[no-untyped-def]
    huey, seen, record = queue
    record()
    record()
    _run_all(huey)
    assert len(seen) == 2 and all(HEX32.match(s or "") for s in seen)
    assert seen[0] != seen[1]


def test_a_task_enqueued_by_a_task_and_a_retry_keep_the_id(queue) -> None:  # type: ignore[no-untyped-def]
    huey, seen, record = queue
    token = REQUEST_ID.set("req-1")
    try:
        record(fail_first=True)  # RetryTask: the same task goes back on the queue
    finally:
        REQUEST_ID.reset(token)
    _run_all(huey)
    assert seen == ["req-1", "req-1"]

    @huey.task(name="test.parent")
    def parent() -> None:
        record()  # enqueued while the parent runs: it inherits the parent's id

    token = REQUEST_ID.set("req-2")
    try:
        parent()
    finally:
        REQUEST_ID.reset(token)
    _run_all(huey)
    assert seen[-1] == "req-2"


def test_a_message_queued_without_an_id_still_runs_under_a_fresh_one(queue) -> None:  # type: ignore[no-untyped-def]
    """Messages left in the queue by an older version (Huey's own message, no wrapper)."""
    huey, seen, record = queue
    task = record.s()
    old = huey.serializer.serialize(huey._registry.create_message(task))
    huey.storage.enqueue(old, None)
    (pending,) = huey.pending()
    assert task_request_id(pending) is None
    _run_all(huey)
    assert len(seen) == 1 and HEX32.match(seen[0] or "")

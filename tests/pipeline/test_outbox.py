"""The outbox: `call.completed` is a row written with `completed`, handed to the
automations after the commit, and again by a sweep when a crash came in between."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CompanyCtx, insert_text_engagement
from tests.delivery.conftest import Receiver, add_automation, deliveries_of

TURNS = [
    ("agent", "Thank you for calling Northwind billing, this is Dana. How can I help you today?"),
    ("customer", "Hi Dana, I was charged twice for my March invoice and I need a refund."),
    ("agent", "I will start the refund now and I will send you a confirmation email today."),
    ("customer", "Perfect, thank you so much for your help, that was quick."),
]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def received_call(company: CompanyCtx) -> uuid.UUID:
    """A chat engagement with its transcript, committed as `received` (as ingest does)."""
    return insert_text_engagement(company.id, TURNS, direction="inbound")


def events_of(company: CompanyCtx) -> list:  # type: ignore[type-arg]
    from sqlalchemy import select

    from callscribe.db import session_scope
    from callscribe.events import OutboxEvent

    with session_scope() as s:
        return list(s.scalars(select(OutboxEvent).where(OutboxEvent.company_id == company.id)))


def status_of(call_id: uuid.UUID) -> str:
    from callscribe.calls.models import Engagement
    from callscribe.db import session_scope

    with session_scope() as s:
        call = s.get(Engagement, call_id)
        assert call is not None
        return call.status


def test_an_event_is_written_with_the_state_change_or_not_at_all(company: CompanyCtx) -> None:
    """A transaction that rolls back leaves no event and dispatches nothing."""
    from callscribe.db import session_scope
    from callscribe.events import record_event

    dispatched: list = []  # type: ignore[type-arg]
    from callscribe import events

    events.set_consumers({"test.event": [lambda _s, event: dispatched.append(event.id)]})
    try:
        with pytest.raises(RuntimeError), session_scope() as s:
            record_event(s, "test.event", {"n": 1}, company_id=company.id)
            raise RuntimeError("the state change failed")
        assert events_of(company) == [] and dispatched == []
        with session_scope() as s:
            event_id = record_event(s, "test.event", {"n": 2}, company_id=company.id)
            assert dispatched == []  # not before the commit
        assert dispatched == [event_id]
        (row,) = events_of(company)
        assert row.dispatched_at is not None and row.attempts == 1 and row.payload == {"n": 2}
    finally:
        events.set_consumers(None)


def test_complete_writes_completed_and_call_completed_together(company: CompanyCtx) -> None:
    """With no dispatcher in this process, the event waits in the outbox for a worker."""
    from callscribe.db import session_scope
    from callscribe.events import CALL_COMPLETED, find_undispatched
    from callscribe.pipeline.runner import process_call

    call_id = received_call(company)
    assert process_call(call_id) == "completed"
    (event,) = events_of(company)
    assert (event.type, event.payload) == (CALL_COMPLETED, {"call_id": str(call_id)})
    assert event.dispatched_at is None
    with session_scope() as s:
        assert find_undispatched(s, older_than_s=0) == [event.id]


def test_a_failing_consumer_leaves_the_event_for_the_sweep(company: CompanyCtx) -> None:
    from callscribe import events
    from callscribe.db import session_scope

    calls: list[int] = []

    def flaky(_session: object, _event: object) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("receiver store down")

    events.set_consumers({"test.event": [flaky]})
    try:
        with session_scope() as s:
            events.record_event(s, "test.event", {}, company_id=company.id)
        (row,) = events_of(company)
        assert row.dispatched_at is None and row.attempts == 1
        assert "receiver store down" in (row.last_error or "")
        assert events.dispatch_pending() == 0  # too young: the after-commit path's turn
        with session_scope() as s:
            assert events.find_undispatched(s, older_than_s=0) == [row.id]
        assert events.dispatch_event(row.id) is True
        (row,) = events_of(company)
        assert row.dispatched_at is not None and row.attempts == 2 and row.last_error is None
        assert len(calls) == 2
    finally:
        events.set_consumers(None)


# -- a real worker killed between the commit and the dispatch ----------------------------


def start_worker(env: dict[str, str], log: Path, **extra: str) -> subprocess.Popen:  # type: ignore[type-arg]
    return subprocess.Popen(
        [sys.executable, "-m", "callscribe.cli", "worker", "--workers", "1"],
        env={**os.environ, **env, **extra},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_until(check, timeout: float, what: str, log: Path) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} after {timeout}s; worker log:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.both_databases
def test_worker_killed_after_completed_commits_fires_the_automation_once_on_restart(
    app_env: dict[str, str],
    company: CompanyCtx,
    receiver: Receiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """GIVEN a webhook automation and a worker that commits `completed` (with its
    call.completed outbox row) WHEN the worker is SIGKILLed before it dispatches the
    event THEN a restarted worker's sweep dispatches it and the receiver gets exactly
    one webhook, and a duplicate dispatch creates no second delivery.

    How the worker is held in the window: in production the window between the commit
    and the after-commit dispatch is a few microseconds, too short to aim a SIGKILL at.
    The first worker runs with CALLSCRIBE_OUTBOX_DISPATCH=false (a documented setting:
    events are written, this process hands none over), so it stays in that window for
    as long as the test needs: the database then holds exactly what a crash right after
    the commit leaves (call `completed`, event undispatched, no delivery). The worker is
    then killed with SIGKILL, no cleanup of any kind, and a normal worker is started."""
    from callscribe import events, worker
    from callscribe.calls.tasks import enqueue_calls
    from callscribe.settings import reset_settings

    log = tmp_path / "worker.log"
    env = {**app_env, "CALLSCRIBE_QUEUE_NAME": f"outbox-{uuid.uuid4().hex[:8]}"}
    monkeypatch.setenv("CALLSCRIBE_QUEUE_NAME", env["CALLSCRIBE_QUEUE_NAME"])
    reset_settings()
    automation_id = add_automation(company, kind="webhook", url=receiver.url)
    call_id = received_call(company)

    first = start_worker(env, log, CALLSCRIBE_OUTBOX_DISPATCH="false")
    try:
        enqueue_calls([call_id])
        wait_until(lambda: status_of(call_id) == "completed", 90, "call not completed", log)
        (event,) = events_of(company)
        time.sleep(1.5)  # a sweep or two of the first worker pass: it dispatches nothing
        assert events_of(company)[0].dispatched_at is None
        assert deliveries_of(automation_id) == [] and receiver.requests == []
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL

    second = start_worker(env, log, CALLSCRIBE_OUTBOX_RETRY_AFTER_S="0")
    try:
        receiver.wait_for(1, timeout=90)
        wait_until(
            lambda: [d.status for d in deliveries_of(automation_id)] == ["succeeded"],
            30,
            "delivery not succeeded",
            log,
        )
        (row,) = events_of(company)
        assert row.id == event.id and row.dispatched_at is not None and row.attempts == 1
        # the same event handed over again (a second sweep racing the first, say)
        events.set_consumers(worker.CONSUMERS)
        try:
            assert events.dispatch_event(event.id, again=True) is True
        finally:
            events.set_consumers(None)
        time.sleep(3)  # the running worker sweeps every second: nothing more goes out
        assert len(deliveries_of(automation_id)) == 1
        assert len(receiver.requests) == 1
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=60)
    body = receiver.requests[0].json()
    assert body["event"] == "call.completed" and body["call"]["id"] == str(call_id)

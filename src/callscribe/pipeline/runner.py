"""Runs the steps over one engagement. The runner owns what no step should: the claim
and its lease (kept fresh by a heartbeat), the attempt count, the status transitions

    received -> transcribing -> analyzing -> completed | failed | waiting(reason)

and the error text a user sees. Each step commits its own work as it goes, so progress
is visible to other processes; that is why this opens sessions instead of taking one.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import timedelta
from typing import Any

from sqlalchemy import func, or_, update

from callscribe.calls.models import ACTIVE_STATUSES, Engagement, EngagementStatus
from callscribe.db import session_scope, utcnow
from callscribe.errors import CallscribeError
from callscribe.observability import STEP_DURATION
from callscribe.pipeline.base import Step, WaitFor
from callscribe.pipeline.context import load_context
from callscribe.pipeline.steps import STEPS
from callscribe.settings import get_settings

log = logging.getLogger(__name__)


def claim(call_id: uuid.UUID) -> bool:
    """Take the call's lease. False when another worker holds a fresh one, or the call
    is not waiting to be processed."""
    now = utcnow()
    cutoff = now - timedelta(seconds=get_settings().STALE_AFTER_S)
    with session_scope() as session:
        result = session.execute(
            update(Engagement)
            .where(
                Engagement.id == call_id,
                Engagement.status.in_(ACTIVE_STATUSES),
                or_(Engagement.heartbeat_at.is_(None), Engagement.heartbeat_at < cutoff),
            )
            .values(
                heartbeat_at=now,
                attempts=Engagement.attempts + 1,
                processing_started_at=func.coalesce(Engagement.processing_started_at, now),
            )
            .execution_options(synchronize_session=False)
        )
        return (getattr(result, "rowcount", 0) or 0) == 1


@contextmanager
def heartbeat(call_id: uuid.UUID) -> Iterator[None]:
    """Keep the lease fresh while a step runs, even through long silent stretches."""
    stop = threading.Event()
    interval = max(0.5, get_settings().STALE_AFTER_S / 4)

    def beat() -> None:
        while not stop.wait(interval):
            with suppress(Exception):
                set_state(call_id, heartbeat_at=utcnow())

    # in the task's context: what it logs carries the task's request id
    context = contextvars.copy_context()
    thread = threading.Thread(
        target=context.run, args=(beat,), name=f"heartbeat-{call_id}", daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def set_state(call_id: uuid.UUID, **values: Any) -> None:
    with session_scope() as session:
        session.execute(
            update(Engagement)
            .where(Engagement.id == call_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def process_call(call_id: uuid.UUID | str, steps: Sequence[Step] = STEPS) -> str:
    """Run the pipeline for one call; returns the final status (or "skipped" when the
    call is not ours to process). Idempotent: each step replaces what an earlier attempt
    of it produced."""
    call_id = uuid.UUID(str(call_id))
    if not claim(call_id):
        log.info("call %s: not claimed (done, or another worker holds its lease)", call_id)
        return "skipped"
    settings = get_settings()
    with session_scope() as session:
        call = session.get(Engagement, call_id)
        assert call is not None
        log.info("call %s: processing, attempt %d", call_id, call.attempts)
        if call.attempts > settings.MAX_ATTEMPTS:
            call.status, call.heartbeat_at = EngagementStatus.FAILED, None
            call.error = f"Processing was interrupted {call.attempts - 1} times; gave up."
            return EngagementStatus.FAILED
    try:
        with heartbeat(call_id):
            return _run_steps(call_id, steps)
    except CallscribeError as exc:
        set_state(
            call_id,
            status=EngagementStatus.FAILED,
            error=exc.message,
            heartbeat_at=None,
            progress=0.0,
        )
        log.info("call %s failed: %s", call_id, exc.message)
        return EngagementStatus.FAILED
    except Exception as exc:
        log.exception("call %s failed unexpectedly", call_id)
        set_state(
            call_id,
            status=EngagementStatus.FAILED,
            error=f"Internal error while processing ({type(exc).__name__}). Retry the call.",
            heartbeat_at=None,
        )
        return EngagementStatus.FAILED


def _run_steps(call_id: uuid.UUID, steps: Sequence[Step]) -> str:
    ctx = load_context(call_id)
    for step in steps:
        if not step.applies(ctx):
            continue
        if step.status is not None:
            set_state(call_id, status=step.status, progress=0.0, error=None)
        started = time.perf_counter()
        try:
            result = step.run(ctx)
        finally:
            elapsed = time.perf_counter() - started
            STEP_DURATION.labels(step.name).observe(elapsed)
        log.info("call %s: %s done in %.2f s", call_id, step.name, elapsed)
        if isinstance(result, WaitFor):
            set_state(
                call_id,
                status=EngagementStatus.WAITING,
                status_reason=result.reason,
                heartbeat_at=None,
                progress=0.0,
            )
            log.info("call %s waits for %s", call_id, result.setting)
            return EngagementStatus.WAITING
    log.info("call %s: completed", call_id)
    return EngagementStatus.COMPLETED

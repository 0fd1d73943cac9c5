"""The sweep that finds calls whose job was lost."""

from __future__ import annotations

from datetime import timedelta

from callscribe.accounts import service as accounts
from callscribe.calls.models import Engagement
from callscribe.db import session_scope, utcnow


def _call(status: str, enqueued_ago_s: float | None, heartbeat_ago_s: float | None) -> object:
    with session_scope() as s:
        company = accounts.create_company(s, "Sweep Co")
        now = utcnow()
        call = Engagement(
            company_id=company.id,
            status=status,
            enqueued_at=None if enqueued_ago_s is None else now - timedelta(seconds=enqueued_ago_s),
            heartbeat_at=None
            if heartbeat_ago_s is None
            else now - timedelta(seconds=heartbeat_ago_s),
        )
        s.add(call)
        s.flush()
        return call.id


def test_sweep_reenqueues_lost_calls_once_and_leaves_queued_and_busy_ones(app_env) -> None:  # type: ignore[no-untyped-def]
    from callscribe.calls.tasks import queued_call_ids
    from callscribe.queue import configure_queue
    from callscribe.worker import sweep_once

    huey = configure_queue()
    huey.flush()
    lost_received = _call("received", 600, None)
    died_transcribing = _call("transcribing", 600, 600)
    busy = _call("transcribing", 600, 1)  # a live worker holds the lease
    just_enqueued = _call("received", 1, None)
    done = _call("completed", 600, None)
    assert sweep_once() == 2
    assert queued_call_ids() == {lost_received, died_transcribing}
    # the next sweep sees them in the queue and adds nothing
    with session_scope() as s:
        for call_id in (lost_received, died_transcribing):
            s.get(Engagement, call_id).enqueued_at = utcnow() - timedelta(seconds=600)  # type: ignore[union-attr]
    assert sweep_once() == 0
    assert huey.pending_count() == 2
    assert busy and just_enqueued and done

"""The steps and the runner: which steps apply to which engagement, and a missing
setting as a step result (WaitFor) that leaves the call `waiting`."""

from __future__ import annotations

import uuid

from tests.conftest import CompanyCtx


def _engagement(company: CompanyCtx, channel: str, meta: dict) -> uuid.UUID:  # type: ignore[type-arg]
    from callscribe.calls.models import Engagement, Turn
    from callscribe.db import session_scope

    call_id = uuid.uuid4()
    with session_scope() as s:
        s.add(
            Engagement(
                id=call_id,
                company_id=company.id,
                channel=channel,
                source="test",
                status="received",
                audio_key=None if channel != "voice" else f"{company.id}/{call_id}.wav",
                meta=meta,
            )
        )
        s.flush()
        s.add(
            Turn(
                company_id=company.id,
                engagement_id=call_id,
                seq=0,
                role="customer",
                start_ms=0,
                end_ms=2000,
                text="Hello, I need a refund for a double charge on my invoice.",
            )
        )
    return call_id


def test_text_engagements_and_transcribed_calls_skip_transcribe(company: CompanyCtx) -> None:
    from callscribe.pipeline.context import load_context
    from callscribe.pipeline.steps import STEPS, Transcribe

    assert [type(step).__name__ for step in STEPS] == [
        "Transcribe",
        "Redact",
        "Stats",
        "Analyze",
        "Index",
        "AutoReview",
        "Trackers",
        "Complete",
    ]
    chat = load_context(_engagement(company, "chat", {"transcript_complete": True}))
    email = load_context(_engagement(company, "email", {}))
    transcribed = load_context(_engagement(company, "voice", {"transcript_complete": True}))
    recording = load_context(_engagement(company, "voice", {}))
    assert [Transcribe().applies(c) for c in (chat, email, transcribed, recording)] == [
        False,
        False,
        False,
        True,
    ]


def test_a_missing_ai_key_is_a_wait_for_result_and_the_call_waits(company: CompanyCtx) -> None:
    from callscribe.accounts import service as accounts
    from callscribe.calls.models import Engagement, Minutes
    from callscribe.db import session_scope
    from callscribe.events import OutboxEvent
    from callscribe.pipeline.base import WaitFor
    from callscribe.pipeline.context import load_context
    from callscribe.pipeline.runner import process_call
    from callscribe.pipeline.steps import Analyze

    with session_scope() as s:
        accounts.get_company_settings(s, company.id).ai_engine = "openai"  # no key set
    call_id = _engagement(company, "chat", {"transcript_complete": True})
    result = Analyze().run(load_context(call_id))
    assert isinstance(result, WaitFor) and result.reason == "AI key not set"
    assert process_call(call_id) == "waiting"
    with session_scope() as s:
        call = s.get(Engagement, call_id)
        assert call is not None
        assert (call.status, call.status_reason, call.heartbeat_at) == (
            "waiting",
            "AI key not set",
            None,
        )
        assert s.get(Minutes, call_id) is None
        assert s.query(OutboxEvent).count() == 0  # nothing completed, nothing announced

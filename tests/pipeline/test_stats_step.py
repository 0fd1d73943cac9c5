"""The Stats step: conversation stats stored with the engagement (meta, facts) and shown
by `GET /api/calls/{id}` in the issue's shape; a chat gets only what is meaningful."""

from __future__ import annotations

import uuid

from tests.conftest import CompanyCtx, insert_text_engagement

STATS_KEYS = {
    "talk_s",
    "talk_ratio",
    "longest_monologue_s",
    "interruptions",
    "silence_share",
    "hold_s",
    "response_time_s",
    "wpm",
    "questions",
}


def _voice_call(company: CompanyCtx) -> uuid.UUID:
    from callscribe.calls.models import Engagement, Turn
    from callscribe.db import session_scope

    call_id = uuid.uuid4()
    rows = [
        ("agent", 0, 0, 4000, "Thanks for calling, how can I help?"),
        ("customer", 1, 5000, 9000, "I was charged twice for my order."),
        ("agent", 0, 8000, 10000, "I see."),
        ("customer", 1, 10500, 12000, "Can you refund it?"),
        ("agent", 0, 25000, 30000, "Done, the refund is on its way."),
    ]
    with session_scope() as s:
        s.add(
            Engagement(
                id=call_id,
                company_id=company.id,
                channel="voice",
                source="test",
                status="received",
                duration_s=32.0,
                facts={"revenue": 12.5, "talk_s_agent": 999},
                meta={"transcript_complete": True, "timing": "real"},
            )
        )
        s.flush()
        for seq, (role, channel, start, end, text) in enumerate(rows):
            s.add(
                Turn(
                    company_id=company.id,
                    engagement_id=call_id,
                    seq=seq,
                    role=role,
                    channel=channel,
                    start_ms=start,
                    end_ms=end,
                    text=text,
                )
            )
    return call_id


def _get(company: CompanyCtx, call_id: uuid.UUID) -> dict:  # type: ignore[type-arg]
    from fastapi.testclient import TestClient

    from callscribe.app import create_app

    with TestClient(create_app()) as client:
        resp = client.get(f"/api/calls/{call_id}", headers=company.headers)
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


def test_a_voice_call_gets_its_stats_as_facts_and_in_the_api(company: CompanyCtx) -> None:
    from callscribe.calls.models import Engagement
    from callscribe.db import session_scope
    from callscribe.pipeline.context import load_context
    from callscribe.pipeline.steps import Stats

    call_id = _voice_call(company)
    assert _get(company, call_id)["stats"] is None  # before the step ran
    Stats().run(load_context(call_id))
    Stats().run(load_context(call_id))  # idempotent
    with session_scope() as s:
        call = s.get(Engagement, call_id)
        assert call is not None
        facts, meta = dict(call.facts), dict(call.meta)
    assert facts["revenue"] == 12.5  # the source's own facts stay
    assert facts["talk_s_agent"] == 11.0 and facts["talk_s_customer"] == 5.5
    assert facts["interruptions_agent"] == 1 and facts["interruptions_customer"] == 0
    assert facts["hold_s"] == 13.0 and facts["questions_customer"] == 1
    assert meta["stats"]["hold_spans"] == [[12000, 25000]]
    assert meta["transcript_complete"] is True  # the rest of meta stays

    stats = _get(company, call_id)["stats"]
    assert set(stats) == STATS_KEYS
    assert stats["talk_s"] == {"agent": 11.0, "customer": 5.5}
    assert stats["talk_ratio"] == {"agent": round(11 / 16.5, 4), "customer": round(5.5 / 16.5, 4)}
    assert stats["longest_monologue_s"] == {"agent": 5.0, "customer": 4.0}
    assert stats["interruptions"] == {"agent": 1, "customer": 0}
    assert stats["silence_share"] == round((1 + 0.5 + 13 + 2) / 32, 4)
    assert stats["hold_s"] == 13.0
    assert stats["response_time_s"] == {
        "agent": {"avg": 6.5, "max": 13.0},
        "customer": {"avg": 0.75, "max": 1.0},
    }
    assert set(stats["wpm"]) == {"agent", "customer"} and stats["wpm"]["customer"] > 0
    assert stats["questions"] == {"agent": 1, "customer": 1}


def test_a_chat_runs_the_whole_pipeline_with_the_stats_that_mean_something(
    company: CompanyCtx,
) -> None:
    from callscribe.calls.models import Engagement
    from callscribe.db import session_scope
    from callscribe.pipeline.runner import process_call

    call_id = insert_text_engagement(
        company.id,
        [
            ("customer", "Hi, where is my parcel?"),
            ("agent", "Let me look. It ships tomorrow."),
            ("customer", "Can you send the tracking number?"),
        ],
        meta={"transcript_complete": True, "timing": "real"},
    )
    assert process_call(call_id) == "completed"
    stats = _get(company, call_id)["stats"]
    assert set(stats) == STATS_KEYS
    assert stats["talk_s"] is None and stats["interruptions"] is None and stats["wpm"] is None
    assert stats["questions"] == {"agent": 0, "customer": 2}
    # a message every 5 s, each "ending" 4 s after it starts: 1 s to each reply
    assert stats["response_time_s"]["agent"] == {"avg": 1.0, "max": 1.0}
    with session_scope() as s:
        call = s.get(Engagement, call_id)
        assert call is not None
        assert call.facts["questions_customer"] == 2 and "talk_s_agent" not in call.facts

    made_up = insert_text_engagement(
        company.id,
        [("customer", "Hello?"), ("agent", "Hi!")],
        meta={"transcript_complete": True, "timing": "none"},
    )
    assert process_call(made_up) == "completed"
    assert _get(company, made_up)["stats"]["response_time_s"] is None

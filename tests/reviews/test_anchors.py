"""A person's review of a turn survives the call being transcribed again: it is put back
on the new turn at the same place (same side, overlapping time), with its dispute, while
the AI's unconfirmed flags go (the AutoReview step makes them again)."""

from __future__ import annotations

import uuid

import pytest

from tests.calls.test_pipeline import upload
from tests.calls.test_roles import scripted, write_two_tone_call  # noqa: F401 (fixture)
from tests.conftest import CompanyCtx, LiveServer, wait_for_status

pytestmark = pytest.mark.slow


def test_turn_reviews_follow_their_turn_through_a_reprocess(
    live_server: LiveServer,
    company: CompanyCtx,
    scripted: None,  # noqa: F811
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    from sqlalchemy import select

    from callscribe.db import session_scope
    from callscribe.reviews.models import Review, ReviewerKind

    call_id = upload(live_server, company, write_two_tone_call(tmp_path / "booking.wav"))
    with live_server.client(headers=company.headers) as client:
        call = wait_for_status(client, call_id)
        assert call["status"] == "completed", call["error"]
        agent_turns = [t for t in call["turns"] if t["role"] == "agent"]
        second = agent_turns[1]  # "Let me check. I have booked it."
        tag = client.post(
            "/api/tags",
            json={"name": "Confirms booking", "polarity": "positive", "levels": ["agent_turn"]},
        ).json()
        review = client.post(
            "/api/reviews",
            json={
                "engagement_id": call_id,
                "turn_id": second["id"],
                "tag_id": tag["id"],
                "comment": "good",
            },
        )
        assert review.status_code == 201, review.text
        review_id = review.json()["id"]
        with session_scope() as s:  # an AI flag nobody confirmed, on another turn
            s.add(
                Review(
                    company_id=company.id,
                    engagement_id=uuid.UUID(call["id"]),
                    turn_id=agent_turns[0]["id"],
                    tag_id=uuid.UUID(tag["id"]),
                    reviewer_kind=ReviewerKind.AI.value,
                    reviewer_name="AI",
                    answers={},
                    confidence=0.9,
                    status="flagged",
                )
            )

        assert client.post(f"/api/calls/{call_id}/reprocess").status_code == 200
        again = wait_for_status(client, call_id)
        assert again["status"] == "completed", again["error"]
        kept = client.get(f"/api/reviews/{review_id}")  # the turns went: it did not
        assert kept.status_code == 200, kept.text
        kept = kept.json()
        assert kept["comment"] == "good"
        (turn,) = [t for t in again["turns"] if t["id"] == kept["turn_id"]]
        assert (turn["role"], turn["text"], turn["start_ms"]) == (
            "agent",
            second["text"],
            second["start_ms"],
        )
    with session_scope() as s:
        reviews = list(
            s.scalars(select(Review).where(Review.engagement_id == uuid.UUID(call["id"])))
        )
    assert [r.reviewer_kind for r in reviews] == ["human"]
    assert reviews[0].anchor is None

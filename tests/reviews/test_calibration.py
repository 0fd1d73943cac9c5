"""A calibration session: a reviewer and the expert score the same engagements blind;
agreement per question (percent agreement and Gwet's AC1) against the expert; the
session's answers never show among the engagements' reviews."""

from __future__ import annotations

import uuid

import pytest

from tests.reviews.conftest import World


def user_id(email: str) -> uuid.UUID:
    from sqlalchemy import select

    from callscribe.accounts.models import User
    from callscribe.db import session_scope

    with session_scope() as s:
        return s.scalars(select(User.id).where(User.email == email)).one()


def test_agreement_per_question_against_the_expert(world: World) -> None:
    greet = world.api.post("/api/questions", json={"text": "Greeted?", "kind": "binary"}).json()
    tone = world.api.post("/api/questions", json={"text": "Tone 1-3", "kind": "scale3"}).json()
    form = world.api.post(
        "/api/forms",
        json={
            "name": "QA",
            "levels": ["engagement"],
            "sections": [{"title": "All", "question_ids": [greet["id"], tone["id"]]}],
        },
    ).json()
    chats = [world.chat([f"question {n}"]) for n in range(5)]
    manager, reviewer = world.as_role("manager"), world.as_role("reviewer")
    session = manager.post(
        "/api/calibrations",
        json={
            "name": "November",
            "form_id": form["id"],
            "engagement_ids": [str(c) for c in chats],
            "expert_user_id": str(user_id("manager@acme.test")),
        },
    )
    assert session.status_code == 201, session.text
    cid = session.json()["id"]
    expert = ["yes", "yes", "no", "no", "yes"]
    theirs = ["yes", "yes", "yes", "no", "yes"]  # 4 of 5 agree: AC1 = 0.38 / 0.58
    for chat, a, b in zip(chats, expert, theirs, strict=True):
        for client, value, tone_value in ((manager, a, 2), (reviewer, b, 2)):
            answer = client.post(
                f"/api/calibrations/{cid}/answers",
                json={
                    "engagement_id": str(chat),
                    "answers": {greet["id"]: value, tone["id"]: tone_value},
                },
            )
            assert answer.status_code == 201, answer.text
    stranger = world.chat(["not in the session"])
    assert (
        reviewer.post(
            f"/api/calibrations/{cid}/answers", json={"engagement_id": str(stranger), "answers": {}}
        ).status_code
        == 404
    )
    rows = {r["question_id"]: r for r in manager.get(f"/api/calibrations/{cid}/agreement").json()}
    assert rows[greet["id"]]["pairs"] == 5
    assert rows[greet["id"]]["percent_agreement"] == pytest.approx(0.8)
    assert rows[greet["id"]]["ac1"] == pytest.approx(0.38 / 0.58)
    assert rows[tone["id"]]["percent_agreement"] == 1.0 and rows[tone["id"]]["ac1"] == 1.0
    assert reviewer.get(f"/api/calibrations/{cid}/agreement").status_code == 403
    page = manager.get("/reviews/calibrations").text
    assert f'data-calibration="{cid}"' in page and "Greeted?" in page
    assert ">0.66</td>" in page and ">80%</td>" in page  # AC1 0.655..., agreement 4 of 5
    assert reviewer.get("/reviews/calibrations").status_code == 403
    # blind: none of it is among the engagements' reviews
    assert (
        world.api.get("/api/reviews", params={"engagement_id": str(chats[0])}).json()["total"] == 0
    )

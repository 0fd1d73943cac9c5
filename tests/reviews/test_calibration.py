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


def qa_form(world: World, *, greet_na: bool = False) -> tuple[dict, dict, dict]:
    """A form of a yes/no and a 1-3 question: (greet, tone, form)."""
    greet = world.api.post(
        "/api/questions", json={"text": "Greeted?", "kind": "binary", "allow_na": greet_na}
    ).json()
    tone = world.api.post("/api/questions", json={"text": "Tone 1-3", "kind": "scale3"}).json()
    form = world.api.post(
        "/api/forms",
        json={
            "name": "QA",
            "levels": ["engagement"],
            "sections": [{"title": "All", "question_ids": [greet["id"], tone["id"]]}],
        },
    ).json()
    return greet, tone, form


def test_agreement_per_question_against_the_expert(world: World) -> None:
    greet, tone, form = qa_form(world)
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
    listed = reviewer.get("/reviews/calibrations")  # a reviewer scores, never sees agreement
    assert listed.status_code == 200 and f"/reviews/calibrations/{cid}" in listed.text
    assert 'data-testid="agreement"' not in listed.text and "new-calibration" not in listed.text
    # blind: none of it is among the engagements' reviews
    assert (
        world.api.get("/api/reviews", params={"engagement_id": str(chats[0])}).json()["total"] == 0
    )


def test_a_manager_starts_a_session_and_a_reviewer_scores_it_on_the_pages(world: World) -> None:
    from tests.web.conftest import csrf_from

    greet, tone, form = qa_form(world, greet_na=True)
    chats = [world.chat([f"question {n}"]) for n in range(2)]
    from sqlalchemy import update

    from callscribe.calls.models import Engagement
    from callscribe.db import session_scope

    with session_scope() as s:  # candidates are completed engagements
        s.execute(update(Engagement).where(Engagement.id.in_(chats)).values(status="completed"))
    manager, reviewer = world.as_role("manager"), world.as_role("reviewer")
    page = manager.get("/reviews/calibrations").text
    assert 'data-testid="new-calibration"' in page and str(chats[0]) in page
    token = csrf_from(page)
    missing = manager.post(
        "/reviews/calibrations",
        data={"csrf_token": token, "name": "Dec", "form_id": form["id"]},
    )
    assert missing.status_code == 303  # no engagements picked: said, nothing made
    assert "engagement_ids" in manager.get(missing.headers["location"]).text
    made = manager.post(
        "/reviews/calibrations",
        data={
            "csrf_token": token,
            "name": "Dec",
            "form_id": form["id"],
            "expert_user_id": str(user_id("manager@acme.test")),
            "engagement_ids": [str(c) for c in chats],
        },
    )
    assert made.status_code == 303, made.text
    where = made.headers["location"]
    cid = where.rsplit("/", 1)[-1]

    scoring = reviewer.get(where)
    assert scoring.status_code == 200 and "0 of 2 scored" in scoring.text
    assert "Greeted?" in scoring.text and 'value="na"' in scoring.text
    token = csrf_from(scoring.text)
    sent = reviewer.post(
        f"{where}/answers",
        data={
            "csrf_token": token,
            "engagement_id": str(chats[0]),
            f"q-{greet['id']}": "yes",
            f"q-{tone['id']}": "3",
        },
    )
    assert sent.status_code == 303
    after = reviewer.get(where).text
    assert "1 of 2 scored" in after and "scored 100%" in after
    bad = reviewer.post(
        f"{where}/answers",
        data={"csrf_token": token, "engagement_id": str(chats[1]), f"q-{tone['id']}": "9"},
    )
    assert bad.status_code == 303
    assert "from 1 to 3" in reviewer.get(where).text  # said, not stored
    manager_answers = manager.post(
        f"{where}/answers",
        data={
            "csrf_token": csrf_from(manager.get(where).text),
            "engagement_id": str(chats[0]),
            f"q-{greet['id']}": "na",
            f"q-{tone['id']}": "3",
        },
    )
    assert manager_answers.status_code == 303
    rows = {r["question_id"]: r for r in manager.get(f"/api/calibrations/{cid}/agreement").json()}
    assert rows[tone["id"]]["pairs"] == 1 and rows[tone["id"]]["percent_agreement"] == 1.0
    assert world.as_role("agent").get(where).status_code == 403

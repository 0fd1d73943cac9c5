"""The optional LLM judge of a tag's auto review, against an OpenAI-compatible endpoint
on 127.0.0.1 playing the LLM: the classifier's candidates are sent with the tag's
description and people's examples, only those it confirms are flagged, the version
keeps the judge's out-of-fold precision/recall next to the classifier's, and with the
endpoint down the classifier's flags stand, marked unjudged."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from tests.minutes.conftest import ChatServer, Reply, completion
from tests.minutes.test_ai_fallback import configure_ai
from tests.reviews.conftest import World
from tests.reviews.test_autoreview import TARGET, ai_flags, build, engagement_of

CANDIDATE = re.compile(r"^(\d+)\. (.*)$", re.M)


def judges_by_arrival(body: dict, n: int) -> Reply:
    """The LLM's part, scripted: a candidate matches when it asks about a card that has
    not come (the words a person would look for), whatever the classifier thought."""
    prompt = body["messages"][-1]["content"]
    section = prompt.split("Candidates:\n", 1)[1]
    matches = [
        int(num)
        for num, text in CANDIDATE.findall(section)
        if "card" in text.lower() and re.search(r"arriv|receiv|come|deliver|yet|still", text, re.I)
    ]
    return Reply(200, completion(json.dumps({"matches": matches})))


@pytest.fixture
def llm() -> Iterator[ChatServer]:
    server = ChatServer().start()
    server.responder = judges_by_arrival
    try:
        yield server
    finally:
        server.stop()


def _examples(world: World, intent_of: dict[int, str], tag_id: str) -> list[int]:
    targets = sorted(t for t, i in intent_of.items() if i == TARGET)
    for turn_id in targets[:5]:
        made = world.api.post(
            "/api/reviews",
            json={
                "engagement_id": str(engagement_of(turn_id)),
                "turn_id": turn_id,
                "tag_id": tag_id,
            },
        )
        assert made.status_code == 201
    return targets


def test_the_judge_confirms_candidates_and_reports_its_own_figures(
    world: World, llm: ChatServer
) -> None:
    from callscribe.reviews import tasks

    configure_ai(world.api, llm.base_url, fallback=True)
    intent_of, tag_id = build(world)
    _examples(world, intent_of, tag_id)
    # the classifier alone first: what it flags
    state = world.api.put(f"/api/tags/{tag_id}/auto-review", json={"enabled": True})
    assert state.status_code == 200
    tasks.train.call_local(tag_id)
    alone = {t for t, r in ai_flags(world, tag_id).items() if r["status"] == "flagged"}
    assert alone and llm.requests == []  # no judge yet: the LLM was not asked

    state = world.api.put(
        f"/api/tags/{tag_id}/auto-review", json={"enabled": True, "llm_judge": True}
    )
    assert state.status_code == 200 and state.json()["status"] == "training"
    assert set(state.json()) == {"status", "examples", "precision", "recall", "flagged"}
    tasks.train.call_local(tag_id)
    flags = ai_flags(world, tag_id)
    judged = {t for t, r in flags.items() if r["status"] == "flagged"}
    assert judged and judged < alone  # only confirmed candidates, and some were not
    from callscribe.calls.models import Turn
    from callscribe.db import session_scope

    with session_scope() as s:
        texts = {t: s.get(Turn, t).text for t in alone}  # type: ignore[union-attr]
    for turn_id in judged:
        assert flags[turn_id]["judge"] == {"verdict": "confirmed", "model": "m"}
        assert (
            judges_by_arrival(
                {"messages": [{"content": f"Candidates:\n1. {texts[turn_id]}"}]}, 0
            ).body["choices"][0]["message"]["content"]
            == '{"matches": [1]}'
        )
    for turn_id in alone - judged:  # the judge said no: not flagged
        assert turn_id not in flags or flags[turn_id]["status"] != "flagged"
    asked = llm.requests[-1].body["messages"][-1]["content"]
    assert "Tag: Card arrival" in asked and "where their new card is" in asked
    assert "Examples people tagged:" in asked
    versions = world.api.get(f"/api/tags/{tag_id}/auto-review/versions").json()
    assert versions[0]["judge_precision"] is None
    assert 0 < versions[1]["judge_precision"] <= 1 and 0 < versions[1]["judge_recall"] <= 1
    assert versions[1]["judge_model"] == "m"
    page = world.as_role("manager").get(f"/reviews/tags/{tag_id}").text
    assert "precision / recall with the judge" in page

    # the endpoint down: the classifier's flags stand, marked unjudged
    llm.responder = lambda body, n: Reply(503, {"error": {"message": "overloaded"}})
    from callscribe.pipeline.runner import process_call

    question = texts[sorted(judged)[0]]
    chat = world.chat([question])
    assert process_call(chat) == "completed"
    on_new = world.api.get("/api/reviews", params={"engagement_id": str(chat)}).json()["items"]
    assert [r["status"] for r in on_new] == ["flagged"]
    assert on_new[0]["judge"]["verdict"] == "unavailable"

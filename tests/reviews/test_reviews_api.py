"""The reviews API on SQLite and PostgreSQL: tags (built-ins, the exact shapes), reviews
on engagements and turns, the Page shape, forms whose edits leave old scores alone, the
approve / dispute / resolve flow with its permissions, AI reviews next to human ones,
other companies' objects not found, 422s with a message."""

from __future__ import annotations

import uuid

from tests.conftest import make_company
from tests.reviews.conftest import World, turn_ids

REVIEW_KEYS = {
    "id",
    "engagement_id",
    "turn_id",
    "tag_id",
    "tag",
    "form_id",
    "form_version",
    "answers",
    "score",
    "auto_failed",
    "comment",
    "reviewer",
    "confidence",
    "judge",  # an AI review of a tag with the LLM judge: its verdict
    "status",
    "verdict",
    "frozen",
    "proposed_answers",
    "history",
    "created_at",
}


def tag(world: World, name: str = "Card arrival", levels: list[str] | None = None) -> str:
    body = {
        "name": name,
        "polarity": "negative",
        "levels": levels or ["customer_turn"],
        "description": "Where is my card?",
    }
    answer = world.api.post("/api/tags", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def qa_form(world: World) -> tuple[str, str, str]:
    greet = world.api.post("/api/questions", json={"text": "Greeted?", "kind": "binary"}).json()
    solved = world.api.post(
        "/api/questions", json={"text": "Solved?", "kind": "scale5", "weight": 3}
    ).json()
    form = world.api.post(
        "/api/forms",
        json={
            "name": "Chat QA",
            "levels": ["engagement", "agent_turn"],
            "sections": [
                {
                    "title": "All",
                    "kind": "standard",
                    "weight": 1,
                    "question_ids": [greet["id"], solved["id"]],
                }
            ],
        },
    )
    assert form.status_code == 201, form.text
    return form.json()["id"], greet["id"], solved["id"]


def test_tags_answer_the_documented_shape_with_built_ins(world: World) -> None:
    answer = world.api.post(
        "/api/tags",
        json={
            "name": "Card arrival",
            "polarity": "negative",
            "levels": ["customer_turn"],
            "description": "Where is my card?",
        },
    )
    assert answer.status_code == 201
    body = answer.json()
    assert body["id"] and body["name"] == "Card arrival" and body["polarity"] == "negative"
    assert body["levels"] == ["customer_turn"] and body["builtin"] is False
    names = {t["name"]: t for t in world.api.get("/api/tags").json()}
    assert names["Reviewed"]["builtin"] and names["Reviewed"]["levels"] == ["engagement"]
    assert names["Bookmark"]["builtin"] and "customer_turn" in names["Bookmark"]["levels"]
    again = world.api.post("/api/tags", json={"name": "Card arrival", "levels": ["engagement"]})
    assert again.status_code == 409


def test_bad_input_is_a_422_with_a_message(world: World) -> None:
    bad = [
        ("/api/tags", {"name": "", "levels": ["engagement"]}),
        ("/api/tags", {"name": "x", "levels": ["kitchen"]}),
        ("/api/tags", {"name": "x", "levels": ["engagement"], "polarity": "sideways"}),
        ("/api/questions", {"text": "Tone?", "kind": "single_choice", "choices": [{"label": "a"}]}),
        ("/api/questions", {"text": "Tone?", "kind": "binary", "weight": -1}),
        ("/api/reviews", {"engagement_id": "not-a-uuid", "tag_id": str(uuid.uuid4())}),
        ("/api/reviews", {"engagement_id": str(world.chat(["hi"]))}),
    ]
    for path, body in bad:
        answer = world.api.post(path, json=body)
        assert answer.status_code == 422, (path, body, answer.text)
        error = answer.json()["error"]
        assert error["code"] == "validation_error" and error["message"]
    assert world.api.get("/api/reviews", params={"page_size": 201}).status_code == 422
    assert world.api.get("/api/reviews", params={"reviewer": "robot"}).status_code == 422


def test_a_tag_on_a_turn_is_listed_in_the_page_shape(world: World) -> None:
    tag_id = tag(world)
    chat = world.chat(["My card has not arrived yet.", "What is the exchange rate?"])
    customer_turn, agent_turn = turn_ids(chat)[:2]
    made = world.api.post(
        "/api/reviews",
        json={
            "engagement_id": str(chat),
            "turn_id": customer_turn,
            "tag_id": tag_id,
            "comment": "card arrival",
        },
    )
    assert made.status_code == 201, made.text
    review = made.json()
    assert set(review) == REVIEW_KEYS
    assert review["reviewer"]["kind"] == "human" and review["status"] == "submitted"
    assert review["tag"]["name"] == "Card arrival" and review["turn_id"] == customer_turn
    # the tag is for customer turns: not an agent turn, nor the whole engagement
    for turn in (agent_turn, None):
        answer = world.api.post(
            "/api/reviews", json={"engagement_id": str(chat), "turn_id": turn, "tag_id": tag_id}
        )
        assert answer.status_code == 422, answer.text
    other = world.chat(["hello"])
    answer = world.api.post(
        "/api/reviews",
        json={"engagement_id": str(other), "turn_id": customer_turn, "tag_id": tag_id},
    )
    assert answer.status_code == 404  # a turn of another engagement
    page = world.api.get("/api/reviews", params={"engagement_id": str(chat)}).json()
    assert set(page) == {"items", "total", "page", "page_size"}
    assert page["total"] == 1 and page["page"] == 1 and page["page_size"] == 50
    assert page["items"][0]["id"] == review["id"]
    assert world.api.get("/api/reviews", params={"reviewer": "ai"}).json()["total"] == 0


def test_another_companys_objects_are_not_found(world: World) -> None:
    tag_id = tag(world)
    chat = world.chat(["My card has not arrived yet."])
    review = world.api.post(
        "/api/reviews",
        json={"engagement_id": str(chat), "turn_id": turn_ids(chat)[0], "tag_id": tag_id},
    ).json()
    from fastapi.testclient import TestClient

    rival = make_company("Rival")
    with TestClient(world.app) as other:  # type: ignore[arg-type]
        other.headers.update(rival.headers)
        assert other.get(f"/api/reviews/{review['id']}").status_code == 404
        assert other.get(f"/api/tags/{tag_id}/auto-review").status_code == 404
        assert other.post(f"/api/reviews/{review['id']}/approve").status_code == 404
        assert other.get("/api/reviews", params={"engagement_id": str(chat)}).status_code == 404
        answer = other.post("/api/reviews", json={"engagement_id": str(chat), "tag_id": tag_id})
        assert answer.status_code == 404
        assert other.get("/api/reviews").json()["total"] == 0


def test_a_form_edited_after_a_review_leaves_its_score_unchanged(world: World) -> None:
    form_id, greet, solved = qa_form(world)
    chat = world.chat(["My card has not arrived yet."])
    first = world.api.post(
        "/api/reviews",
        json={"engagement_id": str(chat), "form_id": form_id, "answers": {greet: "yes", solved: 3}},
    )
    assert first.status_code == 201, first.text
    # (1 * 1 + 3 * 0.5) / 4
    assert first.json()["score"] == 62.5 and first.json()["form_version"] == 1
    # the question's weight changes and the form is saved again: version 2
    assert (
        world.api.put(
            f"/api/questions/{solved}", json={"text": "Solved?", "kind": "scale5", "weight": 1}
        ).status_code
        == 200
    )
    saved = world.api.put(
        f"/api/forms/{form_id}",
        json={
            "name": "Chat QA",
            "levels": ["engagement"],
            "sections": [
                {"title": "All", "kind": "standard", "weight": 1, "question_ids": [greet, solved]}
            ],
        },
    )
    assert saved.json()["version"] == 2
    second = world.api.post(
        "/api/reviews",
        json={"engagement_id": str(chat), "form_id": form_id, "answers": {greet: "yes", solved: 3}},
    )
    assert second.json()["score"] == 75.0 and second.json()["form_version"] == 2
    again = world.api.get(f"/api/reviews/{first.json()['id']}").json()
    assert again["score"] == 62.5 and again["form_version"] == 1


def test_approve_dispute_resolve_with_permissions(world: World) -> None:
    form_id, greet, solved = qa_form(world)
    own = world.chat(["My card has not arrived yet."])  # the agent user's engagement
    others = world.chat(["What is the exchange rate?"], agent_id=world.other_agent)
    reviewer, agent, manager = (world.as_role(r) for r in ("reviewer", "agent", "manager"))

    def review_on(chat: uuid.UUID) -> str:
        answer = reviewer.post(
            "/api/reviews",
            json={
                "engagement_id": str(chat),
                "form_id": form_id,
                "answers": {greet: "no", solved: 2},
            },
        )
        assert answer.status_code == 201, answer.text
        assert answer.json()["reviewer"]["name"] == "Reviewer"
        return answer.json()["id"]

    mine, theirs = review_on(own), review_on(others)
    # an agent can write no reviews, and sees and disputes only their own engagement's
    assert (
        agent.post(
            "/api/reviews", json={"engagement_id": str(own), "form_id": form_id, "answers": {}}
        ).status_code
        == 403
    )
    assert agent.post(f"/api/reviews/{theirs}/dispute", json={"comment": "no"}).status_code == 404
    assert [r["id"] for r in agent.get("/api/reviews").json()["items"]] == [mine]
    # a reviewer is neither the agent reviewed nor a manager
    assert reviewer.post(f"/api/reviews/{mine}/dispute", json={"comment": "x"}).status_code == 403
    assert agent.post(f"/api/reviews/{mine}/dispute", json={"comment": ""}).status_code == 422
    disputed = agent.post(
        f"/api/reviews/{mine}/dispute",
        json={"comment": "I did greet the customer.", "answers": {greet: "yes"}},
    )
    assert disputed.status_code == 200, disputed.text
    body = disputed.json()
    assert body["status"] == "disputed" and body["proposed_answers"][greet]["value"] == "yes"
    assert body["score"] == 18.75  # unchanged until resolved: (0 + 3 * 0.25) / 4
    # only a manager resolves
    assert (
        agent.post(f"/api/reviews/{mine}/resolve", json={"outcome": "accepted"}).status_code == 403
    )
    assert (
        reviewer.post(f"/api/reviews/{mine}/resolve", json={"outcome": "accepted"}).status_code
        == 403
    )
    assert (
        manager.post(f"/api/reviews/{mine}/resolve", json={"outcome": "maybe"}).status_code == 422
    )
    accepted = manager.post(f"/api/reviews/{mine}/resolve", json={"outcome": "accepted"}).json()
    assert accepted["status"] == "accepted" and accepted["score"] == 43.75  # (1 + 0.75) / 4
    assert [h["kind"] for h in accepted["history"]] == ["disputed", "resolved"]
    assert accepted["history"][0]["comment"] == "I did greet the customer."
    # a manager disputes the other review; rejected, its score freezes
    assert (
        manager.post(f"/api/reviews/{theirs}/dispute", json={"comment": "too harsh"}).status_code
        == 200
    )
    rejected = manager.post(f"/api/reviews/{theirs}/resolve", json={"outcome": "rejected"}).json()
    assert rejected["frozen"] and rejected["status"] == "rejected" and rejected["score"] == 18.75
    assert (
        manager.post(f"/api/reviews/{theirs}/dispute", json={"comment": "again"}).status_code == 409
    )
    assert (
        manager.post(f"/api/reviews/{theirs}/resolve", json={"outcome": "accepted"}).status_code
        == 409
    )
    # approve: the agent reviewed
    third = review_on(own)
    approved = agent.post(f"/api/reviews/{third}/approve")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert reviewer.post(f"/api/reviews/{third}/approve").status_code == 403
    # the dispute inbox lists open disputes only
    fourth = review_on(others)
    manager.post(f"/api/reviews/{fourth}/dispute", json={"comment": "check"})
    page = manager.get("/reviews").text
    assert f'data-review="{fourth}"' in page and f'data-review="{theirs}"' not in page


def test_ai_reviews_carry_kind_confidence_and_turn_and_never_replace_human_ones(
    world: World,
) -> None:
    from callscribe.db import session_scope
    from callscribe.reviews.models import AutoReviewModel, Review

    tag_id = tag(world)
    chat = world.chat(["My card has not arrived yet.", "Still no card after two weeks"])
    first, _reply, second, _ = turn_ids(chat)
    human = world.api.post(
        "/api/reviews", json={"engagement_id": str(chat), "turn_id": first, "tag_id": tag_id}
    ).json()
    with session_scope() as s:
        model = AutoReviewModel(
            company_id=world.company.id,
            tag_id=uuid.UUID(tag_id),
            version=1,
            examples=5,
            negatives=5,
            precision=1,
            recall=1,
            f1=1,
            threshold=0.5,
            embedder="local",
            classifier={"coef": [0.0] * 384, "intercept": 0.0},
        )
        s.add(model)
        s.flush()
        s.add(
            Review(
                company_id=world.company.id,
                engagement_id=chat,
                turn_id=second,
                tag_id=uuid.UUID(tag_id),
                reviewer_kind="ai",
                reviewer_name="AI",
                confidence=0.91,
                model_id=model.id,
                status="flagged",
            )
        )
    items = world.api.get("/api/reviews", params={"engagement_id": str(chat)}).json()["items"]
    by_kind = {i["reviewer"]["kind"]: i for i in items}
    assert by_kind["ai"]["reviewer"] == {"kind": "ai"}
    assert by_kind["ai"]["confidence"] == 0.91 and by_kind["ai"]["turn_id"] == second
    assert by_kind["human"]["id"] == human["id"]
    ai_id = by_kind["ai"]["id"]
    assert (
        world.api.post(f"/api/reviews/{ai_id}/feedback", json={"verdict": "nah"}).status_code == 422
    )
    assert (
        world.api.post(
            f"/api/reviews/{human['id']}/feedback", json={"verdict": "correct"}
        ).status_code
        == 422
    )
    assert world.api.post(f"/api/reviews/{ai_id}/approve").status_code == 422
    done = world.api.post(f"/api/reviews/{ai_id}/feedback", json={"verdict": "unclear"}).json()
    assert done["verdict"] == "unclear" and done["history"][0]["data"] == {"verdict": "unclear"}
    ai_only = world.api.get("/api/reviews", params={"reviewer": "ai", "tag_id": tag_id}).json()
    assert [i["id"] for i in ai_only["items"]] == [ai_id]


def test_an_agent_user_linked_to_no_agent_sees_no_reviews(world: World) -> None:
    from tests.reviews.conftest import signed_in
    from tests.web.conftest import create_user

    unassigned = world.chat(["What is the exchange rate?"], agent_id=None)
    with_agent = world.chat(["My card has not arrived yet."])
    bookmark = next(t["id"] for t in world.api.get("/api/tags").json() if t["name"] == "Bookmark")
    for chat in (unassigned, with_agent):
        made = world.api.post("/api/reviews", json={"engagement_id": str(chat), "tag_id": bookmark})
        assert made.status_code == 201
    create_user(world.company.id, "loner@acme.test", "agent")  # no extension: no agent record
    loner = signed_in(world.app, "loner@acme.test")
    assert loner.get("/api/reviews").json()["total"] == 0
    assert loner.get("/api/reviews", params={"engagement_id": str(unassigned)}).status_code == 404
    page = loner.get("/reviews").text
    assert f'data-engagement="{unassigned}"' not in page

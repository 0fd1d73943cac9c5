"""GET /api/search and GET /api/turns/{id}/similar on SQLite and PostgreSQL: the exact
answer shape, 422s with a message, company isolation, agent scoping, no duplicates after
re-processing, and similar turns (never the turn itself, other engagements first).
Engagements are real ABCD chats and the Harper Valley call, put through the pipeline."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import CompanyCtx, LiveServer, insert_text_engagement, make_company
from tests.search.corpus_surface import (
    PROMO,
    REFUND,
    RETURN,
    add_chat,
    processed,
    turn_ids,
    turn_text,
)
from tests.web.conftest import (
    agent_of,
    create_user,
    insert_transcribed_call,
    sign_in,
)

ITEM_KEYS = {
    "turn_id",
    "engagement_id",
    "seq",
    "role",
    "speaker",
    "text",
    "start_ms",
    "score",
    "highlight",
    "engagement",
}
ENGAGEMENT_KEYS = {"channel", "started_at", "agent_name", "customer_id", "subject"}


@dataclass
class World:
    server: LiveServer
    company: CompanyCtx
    api: httpx.Client
    ana: uuid.UUID  # agent of the user ana@acme.test
    ben: uuid.UUID
    returns: uuid.UUID  # Ana's chat: a return refused after 90 days
    refund: uuid.UUID  # Ben's chat: where is my refund
    promo: uuid.UUID  # Ben's chat: when do promo codes expire
    bank: uuid.UUID  # a voice call (Harper Valley), no agent


@pytest.fixture
def world(api_server: LiveServer, company: CompanyCtx) -> Iterator[World]:
    ana_user = create_user(company.id, "ana@acme.test", "agent", extension_id="201")
    ben_user = create_user(company.id, "ben@acme.test", "agent", extension_id="202")
    ana, ben = agent_of(ana_user), agent_of(ben_user)
    assert ana and ben
    returns = add_chat(company.id, RETURN, agent_id=ana)
    refund = add_chat(company.id, REFUND, agent_id=ben)
    promo = add_chat(company.id, PROMO, agent_id=ben, channel="ticket")
    bank = processed(insert_transcribed_call(company.id))
    with api_server.client(headers=company.headers) as api:
        yield World(api_server, company, api, ana, ben, returns, refund, promo, bank)


def search(client: httpx.Client, q: str, **params: object) -> dict:  # type: ignore[type-arg]
    answer = client.get("/api/search", params={"q": q, **params})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_search_answers_the_documented_shape_with_seq_as_position(world: World) -> None:
    body = search(world.api, "promo code", mode="keyword")
    assert set(body) == {"items", "total", "took_ms"}
    assert body["total"] >= 1 and isinstance(body["took_ms"], int | float)
    first = body["items"][0]
    assert set(first) == ITEM_KEYS
    assert set(first["engagement"]) == ENGAGEMENT_KEYS
    assert first["engagement_id"] == str(world.promo)
    assert first["engagement"]["channel"] == "ticket"
    assert first["engagement"]["agent_name"] == "Ben"
    # seq: the 0-based position of the turn in its engagement
    assert turn_ids(world.promo).index(first["turn_id"]) == first["seq"]
    assert first["text"] == turn_text(first["turn_id"])
    assert "<mark>" in first["highlight"].lower()
    assert first["role"] in ("agent", "customer")


def test_modes_each_find_their_kind_of_match(world: World) -> None:
    # words the refund chat uses
    keyword = search(world.api, "refund", mode="keyword")["items"]
    assert keyword and {i["engagement_id"] for i in keyword} <= {str(world.refund)}
    # no shared word: "money back" is a refund by meaning
    semantic = search(world.api, "customer wants their money back", mode="semantic")["items"]
    assert str(world.refund) in {i["engagement_id"] for i in semantic[:5]}
    hybrid = search(world.api, "when does a discount code stop working")["items"]
    assert hybrid[0]["engagement_id"] == str(world.promo)


def test_empty_missing_or_over_long_queries_are_422_with_a_message(world: World) -> None:
    for params in ({"q": ""}, {"q": "   "}, {}, {"q": "x" * 1001}):
        answer = world.api.get("/api/search", params=params)
        assert answer.status_code == 422, (params, answer.text)
        body = answer.json()
        assert body["success"] is False
        assert body["error"]["code"] == "validation_error"
        assert body["error"]["message"].startswith("q")
    assert (
        "1,000" in world.api.get("/api/search", params={"q": "x" * 1001}).json()["error"]["message"]
    )
    assert world.api.get("/api/search", params={"q": "x" * 1000}).status_code == 200
    for bad in (
        {"mode": "fuzzy"},
        {"limit": 0},
        {"limit": 101},
        {"page": 0},
        {"page": 51},  # past the first 1,000 results
        {"channel": "fax"},
        {"role": "ghost"},
        {"agent_id": "not-a-uuid"},
        {"date_from": "yesterday"},
    ):
        answer = world.api.get("/api/search", params={"q": "refund", **bad})
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.json()["error"]["message"]


def test_another_companys_turns_never_appear(world: World) -> None:
    other = make_company("Globex")
    mine = add_chat(other.id, REFUND)
    with world.server.client(headers=other.headers) as globex:
        found = search(globex, "status of a refund")["items"]
        assert found and {i["engagement_id"] for i in found} == {str(mine)}
        # nor can its similar turns be asked for through another company's turn
        acme_turn = turn_ids(world.refund)[1]
        assert globex.get(f"/api/turns/{acme_turn}/similar").status_code == 404
        similar = globex.get(f"/api/turns/{turn_ids(mine)[1]}/similar").json()["items"]
        assert all(i["engagement_id"] == str(mine) for i in similar)
    acme = search(world.api, "status of a refund")["items"]
    assert str(mine) not in {i["engagement_id"] for i in acme}


def test_an_agent_finds_only_the_turns_of_their_own_calls(world: World) -> None:
    ana = sign_in(world.server.url, "ana@acme.test").client
    found = search(ana, "refund return thanks help", limit=50)["items"]
    assert found and {i["engagement_id"] for i in found} == {str(world.returns)}
    assert ana.get(f"/api/turns/{turn_ids(world.refund)[1]}/similar").status_code == 404
    similar = ana.get(f"/api/turns/{turn_ids(world.returns)[2]}/similar").json()["items"]
    assert {i["engagement_id"] for i in similar} <= {str(world.returns)}
    # an agent user linked to no agent record sees nothing at all
    create_user(world.company.id, "nobody@acme.test", "agent")
    nobody = sign_in(world.server.url, "nobody@acme.test").client
    nothing = search(nobody, "refund")
    assert (nothing["items"], nothing["total"]) == ([], 0)
    # a reviewer sees every call
    create_user(world.company.id, "rev@acme.test", "reviewer")
    rev = sign_in(world.server.url, "rev@acme.test").client
    everyone = {i["engagement_id"] for i in search(rev, "thanks help", limit=100)["items"]}
    assert {str(world.returns), str(world.refund)} <= everyone


def test_filters_narrow_the_turns_inside_the_search(world: World) -> None:
    customers = search(world.api, "refund", role="customer", limit=50)["items"]
    assert customers and {i["role"] for i in customers} == {"customer"}
    voice = search(world.api, "account balance", channel="voice", limit=50)["items"]
    assert voice and {i["engagement_id"] for i in voice} == {str(world.bank)}
    bens = search(world.api, "help", agent_id=str(world.ben), limit=50)["items"]
    assert bens and {i["engagement_id"] for i in bens} <= {str(world.refund), str(world.promo)}
    tickets = search(world.api, "help", channel="ticket", limit=50)["items"]
    assert {i["engagement_id"] for i in tickets} == {str(world.promo)}
    assert search(world.api, "refund", date_to="2000-01-01T00:00:00Z")["items"] == []


def test_the_tag_filter_keeps_the_turns_of_engagements_carrying_the_tag(world: World) -> None:
    """GIVEN the promo ticket reviewed `Escalation` by a person and the refund chat with
    a withdrawn AI flag of the same tag WHEN searching with tag=escalation (any case)
    THEN every mode finds turns of the promo ticket only, inside the search (the refund
    chat's turns match "refund" better but are left out); a tag nobody used finds none."""
    from callscribe.db import session_scope
    from callscribe.reviews.models import Review, ReviewerKind, ReviewStatus, Tag

    with session_scope() as s:
        tag = Tag(company_id=world.company.id, name="Escalation")
        s.add(tag)
        s.flush()
        for engagement, kind, status in (
            (world.promo, ReviewerKind.HUMAN, ReviewStatus.SUBMITTED),
            (world.refund, ReviewerKind.AI, ReviewStatus.WITHDRAWN),
        ):
            s.add(
                Review(
                    company_id=world.company.id,
                    engagement_id=engagement,
                    tag_id=tag.id,
                    reviewer_kind=kind.value,
                    status=status.value,
                )
            )
    for mode in ("hybrid", "keyword", "semantic"):
        items = search(world.api, "refund help", mode=mode, tag="escalation", limit=50)["items"]
        assert items and {i["engagement_id"] for i in items} == {str(world.promo)}, mode
    unfiltered = search(world.api, "refund help", mode="keyword", limit=50)["items"]
    assert str(world.refund) in {i["engagement_id"] for i in unfiltered}
    assert search(world.api, "refund help", tag="nobody used this")["items"] == []


def test_outcome_is_the_sources_else_the_minutes(world: World) -> None:
    """GIVEN the refund chat with its source's outcome and the bank call with only the
    analyzer's WHEN searching by outcome THEN each matches by the outcome analytics
    reads: the source's when there is one, else the Minutes'."""
    from callscribe.calls.models import Engagement, Minutes
    from callscribe.db import session_scope

    with session_scope() as s:
        engagement = s.get(Engagement, world.refund)
        assert engagement is not None
        engagement.outcome = "refund issued"
        bank_minutes = s.get(Minutes, world.bank)
        assert bank_minutes is not None
        analysed = bank_minutes.outcome
    refunds = search(world.api, "refund", outcome="refund issued", limit=50)["items"]
    assert refunds and {i["engagement_id"] for i in refunds} == {str(world.refund)}
    by_minutes = search(world.api, "account", outcome=analysed, limit=50)["items"]
    assert by_minutes and str(world.bank) in {i["engagement_id"] for i in by_minutes}
    assert str(world.refund) not in {i["engagement_id"] for i in by_minutes}


def test_reprocessing_a_call_does_not_duplicate_its_results(world: World) -> None:
    before = search(world.api, "refund", mode="keyword", limit=100)
    answer = world.api.post(f"/api/calls/{world.refund}/reprocess")
    assert answer.status_code == 200, answer.text
    processed(world.refund)
    processed_again = search(world.api, "refund", mode="keyword", limit=100)
    ids = [i["turn_id"] for i in processed_again["items"]]
    assert len(ids) == len(set(ids))
    assert processed_again["total"] == before["total"]
    assert sorted(ids) == sorted(i["turn_id"] for i in before["items"])


def test_similar_turns_exclude_the_turn_and_list_other_engagements_first(world: World) -> None:
    # a second chat about a refund, so the refund question has a neighbour elsewhere
    other = processed(
        insert_text_engagement(
            world.company.id,
            [("customer", "Hi, I'd like to know where my refund is."), ("agent", "Let me look.")],
        )
    )
    question = turn_ids(world.refund)[1]  # "just wanted to check on the status of a refund"
    answer = world.api.get(f"/api/turns/{question}/similar", params={"limit": 10})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"items", "total", "took_ms"}
    items = body["items"]
    assert items and set(items[0]) == ITEM_KEYS and len(items) <= 10
    assert question not in {i["turn_id"] for i in items}
    same = [i["engagement_id"] == str(world.refund) for i in items]
    assert same == sorted(same), "turns of the same engagement come after the others"
    assert str(other) in {i["engagement_id"] for i in items[:3]}


def test_similar_of_an_unknown_or_malformed_turn_is_a_clear_4xx(world: World) -> None:
    assert world.api.get("/api/turns/999999/similar").json()["error"]["code"] == "not_found"
    assert world.api.get("/api/turns/abc/similar").status_code == 422
    assert world.api.get("/api/turns/99999999999999999999/similar").status_code == 422
    assert (
        world.api.get(f"/api/turns/{turn_ids(world.refund)[0]}/similar?limit=0").status_code == 422
    )


def test_search_needs_a_principal(world: World) -> None:
    with world.server.client() as anonymous:
        assert anonymous.get("/api/search", params={"q": "refund"}).status_code == 401


def test_results_show_the_masked_text_never_the_pii(world: World) -> None:
    """GIVEN a chat whose customer writes an email address and a card number WHEN it is
    found by search THEN text, highlight and index hold the masks, not the values."""
    chat = processed(
        insert_text_engagement(
            world.company.id,
            [
                ("customer", "Please mail the receipt to dana.smith@example.com today."),
                ("agent", "Sure, and the card on file ending 4111 1111 1111 1111 is charged."),
            ],
        )
    )
    items = search(world.api, "receipt mail card charged", mode="keyword")["items"]
    mine = [i for i in items if i["engagement_id"] == str(chat)]
    assert len(mine) == 2
    for item in mine:
        for field in ("text", "highlight"):
            assert "dana.smith@example.com" not in item[field]
            assert "4111 1111 1111 1111" not in item[field]
    assert any("[email]" in i["text"] for i in mine)
    assert any("[card]" in i["text"] for i in mine)

"""Agents see a journey only of customers they handled, and in it only their own
engagements (docs/permissions.md); managers and reviewers see every engagement."""

from __future__ import annotations

import uuid

from tests.conftest import CompanyCtx, LiveServer
from tests.journey.conftest import T0, chat_messages, customer_of, ticket
from tests.web.conftest import create_user, sign_in


def _chat(client, external_id: str, agent_ext: str, day: int, who: dict) -> str:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    return ticket(
        client,
        {
            "channel": "chat",
            "external_id": external_id,
            "agent": {"id": agent_ext},
            "customer": who,
            "messages": chat_messages(day % 3, T0 + timedelta(days=day)),
        },
    )


def _first_turn(call_id: str) -> int:
    from callscribe.calls import service
    from callscribe.db import session_scope

    with session_scope() as s:
        return service.list_turns(s, uuid.UUID(call_id))[0].id


def test_agents_see_only_their_own_engagements_of_customers_they_handled(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    create_user(company.id, "ana@example.com", "agent", extension_id="A-1")
    create_user(company.id, "bo@example.com", "agent", extension_id="B-1")
    create_user(company.id, "mia@example.com", "manager")
    shared = {"name": "Shared Customer", "phone": "+1 415 555 0101"}
    only_bo = {"name": "Bo's Customer", "phone": "+1 415 555 0102"}
    with api_server.client(headers=company.headers) as client:
        ana_chat = _chat(client, "s1", "A-1", 0, shared)
        bo_chat = _chat(client, "s2", "B-1", 1, shared)
        bo_other = _chat(client, "o1", "B-1", 2, only_bo)
    from callscribe.pipeline.runner import process_call

    for chat in (ana_chat, bo_chat, bo_other):  # processed, so indexed for search
        assert process_call(uuid.UUID(chat)) == "completed"
    shared_id, other_id = customer_of(ana_chat), customer_of(bo_other)
    assert customer_of(bo_chat) == shared_id

    def engagements(web, cid: uuid.UUID) -> list[str]:  # type: ignore[no-untyped-def]
        r = web.client.get(f"/api/customers/{cid}/journey")
        assert r.status_code == 200, r.text
        return [e["id"] for c in r.json()["conversations"] for e in c["engagements"]]

    ana = sign_in(api_server.url, "ana@example.com")
    assert engagements(ana, shared_id) == [ana_chat]
    assert ana.client.get(f"/api/customers/{other_id}/journey").status_code == 404
    page = ana.client.get(f"/customers/{shared_id}/journey")
    assert page.status_code == 200 and bo_chat not in page.text and ana_chat in page.text
    assert ana.client.get(f"/customers/{other_id}/journey").status_code == 404
    ask = ana.client.post(
        f"/api/engagements/{bo_chat}/ask",
        json={"prompt": "What happened?"},
        headers={"X-CSRF-Token": ana.csrf},
    )
    assert ask.status_code == 404
    mine = ana.client.post(
        f"/api/engagements/{ana_chat}/ask",
        json={"prompt": "What happened?"},
        headers={"X-CSRF-Token": ana.csrf},
    )
    assert mine.status_code == 200, mine.text
    bo_turn = _first_turn(bo_chat)
    assert ana.client.get(f"/api/journey/turns/{bo_turn}/similar").status_code == 404
    own = ana.client.get(f"/api/journey/turns/{_first_turn(ana_chat)}/similar")
    assert own.status_code == 200, own.text
    # her own chat's turn finds turns of her engagements only (never Bo's, never itself)
    mine_only = {hit["engagement_id"] for hit in own.json()}
    assert str(bo_chat) not in mine_only
    assert _first_turn(ana_chat) not in {hit["turn_id"] for hit in own.json()}

    mia = sign_in(api_server.url, "mia@example.com")
    assert engagements(mia, shared_id) == [ana_chat, bo_chat]
    assert engagements(mia, other_id) == [bo_other]

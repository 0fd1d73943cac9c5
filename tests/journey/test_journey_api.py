"""GET /api/customers/{id}/journey: one customer's conversations across voice, chat and
email, in time order, grouped the way ingest grouped them."""

from __future__ import annotations

import uuid
from itertools import pairwise

import pytest

from tests.conftest import CompanyCtx, LiveServer
from tests.journey.conftest import build_journey

TURN_KEYS = {"id", "seq", "role", "participant", "text", "start_ms", "at", "response_ms"}
ENGAGEMENT_KEYS = {
    "id",
    "channel",
    "queue",
    "agent_name",
    "handled_by",
    "outcome",
    "started_at",
    "turns",
    "trackers",
}


@pytest.mark.slow
def test_call_chat_and_email_form_one_journey_in_time_order(
    live_server: LiveServer, company: CompanyCtx
) -> None:
    """GIVEN a call (real audio), a chat and its transfer 10 minutes after, and an email
    thread sent as two tickets a day apart, all from one customer, through the APIs
    THEN the journey has three conversations in time order: the call, the chat with its
    transfer, the thread; participants are agent names or "Customer", never the
    customer's name or contacts; response times only where times are real."""
    with live_server.client(headers=company.headers) as client:
        j = build_journey(client, company)
        r = client.get(f"/api/customers/{j.customer_id}/journey")
        assert r.status_code == 200, r.text
        body = r.json()
        assert r.headers["x-total-count"] == "3" and "link" not in r.headers
    assert set(body) == {"customer", "conversations"}
    assert set(body["customer"]) == {"id", "pid", "label"}
    assert body["customer"]["id"] == str(j.customer_id)
    conversations = body["conversations"]
    assert [[e["id"] for e in c["engagements"]] for c in conversations] == [
        [j.call],
        [j.chat, j.transfer],
        [j.email_first, j.email_reply],
    ]
    starts = [c["started_at"] for c in conversations]
    assert starts == sorted(starts)
    assert [c["channels"] for c in conversations] == [["voice"], ["chat"], ["email"]]
    assert conversations[0]["direction"] == "inbound"
    for c in conversations:
        assert set(c) == {"id", "started_at", "direction", "channels", "engagements"}
        assert uuid.UUID(c["id"])
        for e in c["engagements"]:
            assert set(e) == ENGAGEMENT_KEYS
            assert e["turns"], e["id"]
            for t in e["turns"]:
                assert set(t) == TURN_KEYS
    call, chat, transfer = (
        conversations[0]["engagements"][0],
        *conversations[1]["engagements"],
    )
    assert call["channel"] == "voice" and call["agent_name"] == "Dana Agent"
    assert call["handled_by"] == "human"
    assert "country" in " ".join(t["text"] for t in call["turns"]).lower()  # JFK, transcribed
    assert chat["agent_name"] == "Sam Agent" and transfer["agent_name"] == "Lee Specialist"
    assert chat["outcome"] and chat["started_at"].startswith("2026-11-21T09:00")
    participants = {
        t["participant"] for c in conversations for e in c["engagements"] for t in e["turns"]
    }
    assert "Customer" in participants and "Sam Agent" in participants
    assert not any("Crystal" in p or "cminh" in p or "977" in p for p in participants)
    # chat messages carry sent_at: 20 s apart, so the reply after the other party is 20 s
    chat_turns = chat["turns"]
    switches = [t for prev, t in pairwise(chat_turns) if prev["role"] != t["role"]]
    assert switches and all(t["response_ms"] == 20_000 for t in switches)
    same = [t for prev, t in pairwise(chat_turns) if prev["role"] == t["role"]]
    assert same and all(t["response_ms"] is None for t in same)
    assert chat_turns[0]["response_ms"] is None
    assert chat_turns[1]["at"].startswith("2026-11-21T09:00:20")


def test_untimed_messages_have_no_response_time_and_paging_walks_conversations(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    """GIVEN five chats of one customer a day apart, the messages of one without times
    THEN that chat's turns have no `at` and no response_ms (it counts from when it was
    received: last), and page/page_size walk the conversations oldest first with
    X-Total-Count and a Link to the next page."""
    from datetime import UTC, datetime, timedelta

    from tests.journey.conftest import chat_messages, customer, ticket

    t0 = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
    with api_server.client(headers=company.headers) as client:
        ids = []
        for day in range(5):
            messages = chat_messages(day % 3, t0 + timedelta(days=day))
            if day == 2:
                messages = [{k: v for k, v in m.items() if k != "sent_at"} for m in messages]
            ids.append(
                ticket(
                    client,
                    {
                        "channel": "chat",
                        "external_id": f"c{day}",
                        "customer": customer(),
                        "messages": messages,
                    },
                )
            )
        from tests.journey.conftest import customer_of

        cid = customer_of(ids[0])
        first = client.get(f"/api/customers/{cid}/journey", params={"page_size": 2})
        assert first.status_code == 200
        assert first.headers["x-total-count"] == "5"
        assert 'rel="next"' in first.headers["link"] and "page=2" in first.headers["link"]
        seen = [c["engagements"][0]["id"] for c in first.json()["conversations"]]
        second = client.get(f"/api/customers/{cid}/journey", params={"page": 2, "page_size": 2})
        seen += [c["engagements"][0]["id"] for c in second.json()["conversations"]]
        third = client.get(f"/api/customers/{cid}/journey", params={"page": 3, "page_size": 2})
        assert "link" not in third.headers
        seen += [c["engagements"][0]["id"] for c in third.json()["conversations"]]
        assert seen == [*ids[:2], *ids[3:], ids[2]]
        untimed = third.json()["conversations"][0]["engagements"][0]
        timed = first.json()["conversations"][0]["engagements"][0]
        assert any(t["response_ms"] for t in timed["turns"])
        assert all(t["at"] is None and t["response_ms"] is None for t in untimed["turns"])
        # bad input: clear 4xx, never a 500
        assert client.get("/api/customers/not-a-uuid/journey").status_code == 404
        assert client.get(f"/api/customers/{uuid.uuid4()}/journey").status_code == 404
        assert client.get(f"/api/customers/{cid}/journey?page=0").status_code == 422
        assert client.get(f"/api/customers/{cid}/journey?page_size=201").status_code == 422
        assert client.get(f"/api/customers/{cid}/journey?page=abc").status_code == 422
        beyond = client.get(f"/api/customers/{cid}/journey?page=99")
        assert beyond.status_code == 200 and beyond.json()["conversations"] == []

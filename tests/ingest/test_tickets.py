"""Tickets (chats, emails, tickets): turns on their channel, Minutes from the normal
pipeline, the call.completed event for the automations."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import DATA, CompanyCtx, LiveServer, wait_for_status

ABCD = DATA / "transcripts" / "abcd" / "abcd_sample.json"
HARPER = DATA / "transcripts" / "harper_valley" / "0002f70f7386445b.transcript.json"
T0 = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


def _abcd_tickets() -> list[dict]:
    tickets = []
    for convo in json.loads(ABCD.read_text()):
        person = convo["scenario"]["personal"]
        messages = [
            {
                "role": "bot" if role == "action" else role,
                "text": text,
                "sent_at": (T0 + timedelta(seconds=20 * n)).isoformat(),
            }
            for n, (role, text) in enumerate(convo["original"])
        ]
        tickets.append(
            {
                "channel": "chat",
                "external_id": f"abcd-{convo['convo_id']}",
                "agent": {"email": "agent@example.com", "name": "Sam Agent"},
                "customer": {
                    "name": person["customer_name"].title(),
                    "email": person.get("email"),
                    "phone": person.get("phone"),
                },
                "messages": messages,
            }
        )
    return tickets


def _harper_ticket() -> dict:
    turns = sorted(json.loads(HARPER.read_text()), key=lambda t: t["start_ms"])
    return {
        "channel": "ticket",
        "external_id": "harper-0002f70f7386445b",
        "subject": "Replace card",
        "messages": [
            {
                "role": t["speaker_role"] if t["speaker_role"] in ("agent", "customer") else "bot",
                "text": t["human_transcript"] or t["transcript"] or "(inaudible)",
                "sent_at": (T0 + timedelta(milliseconds=t["start_ms"])).isoformat(),
            }
            for t in turns
        ],
    }


def completed_events() -> list[str]:
    """The call ids of every call.completed event in the outbox."""
    from sqlalchemy import select

    from callscribe.db import session_scope
    from callscribe.events import CALL_COMPLETED, OutboxEvent

    with session_scope() as s:
        rows = s.scalars(select(OutboxEvent).where(OutboxEvent.type == CALL_COMPLETED))
        return [row.payload["call_id"] for row in rows]


def _masked_form_of(masked: str, original: str) -> bool:
    """`masked` is `original` with some values replaced by PII labels."""
    parts = re.split(r"\[(?:card|cvv|expiry|ssn|iban|phone|email|name)\]", masked)
    return re.fullmatch(".+?".join(re.escape(p) for p in parts), original, re.S) is not None


@pytest.mark.slow
def test_abcd_and_harper_valley_dialogues_come_out_with_minutes(
    live_server: LiveServer, company: CompanyCtx
) -> None:
    """GIVEN three ABCD chats and a Harper Valley conversation sent as tickets
    THEN each is analysed into Minutes on its own channel and call.completed fires."""
    from callscribe.crm import service as crm
    from callscribe.crm.schemas import CustomerIn
    from callscribe.db import session_scope

    with session_scope() as s:  # the first customer is known: linked by phone
        row = CustomerIn(name="Crystal Minh", phone="(977) 625-2661").model_dump()
        (known,) = crm.add_customers(s, company.id, [(1, row)])

    tickets = [*_abcd_tickets(), _harper_ticket()]
    with live_server.client(headers=company.headers) as client:
        ids = []
        for ticket in tickets:
            r = client.post("/api/tickets", json=ticket)
            assert r.status_code == 201, r.text
            body = r.json()
            assert body["turns"] == len(ticket["messages"]) and body["channel"] == ticket["channel"]
            ids.append(body["call_id"])
        assert client.post("/api/tickets", json=tickets[0]).json()["call_id"] == ids[0]
        for ticket, call_id in zip(tickets, ids, strict=True):
            call = wait_for_status(client, call_id)
            assert call["status"] == "completed", call["error"]
            assert call["channel"] == ticket["channel"] and call["audio_url"] is None
            # the API masks PII (the customer's name, phones, emails): apart from the
            # masked values the text is the message as sent
            texts = [t["text"] for t in call["turns"]]
            assert len(texts) == len(ticket["messages"])
            for text, message in zip(texts, ticket["messages"], strict=True):
                assert _masked_form_of(text, message["text"]), (text, message["text"])
            assert call["minutes"]["summary"] and call["minutes"]["subject"]
            assert call["minutes"]["sentiment"] in ("positive", "neutral", "negative", "mixed")
        first = client.get(f"/api/calls/{ids[0]}").json()
        assert first["customer_name"] == "Crystal Minh"
        assert first["agent"]["email"] == "agent@example.com"
        assert first["started_at"].startswith("2026-11-20T14:00:00")
        assert client.get("/api/calls", params={"channel": "chat"}).json()["total"] == 3
    from callscribe.calls.models import Engagement

    with session_scope() as s:
        assert s.get(Engagement, uuid.UUID(ids[0])).customer_id == known.customer_id
    assert set(ids) <= set(completed_events())


def test_bad_tickets_are_refused_and_store_nothing(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    ok = {"channel": "email", "messages": [{"role": "customer", "text": "Hello"}]}
    bad = [
        {**ok, "channel": "voice"},
        {**ok, "messages": []},
        {**ok, "messages": [{"role": "narrator", "text": "x"}]},
        {**ok, "messages": [{"role": "agent", "text": ""}]},
        {**ok, "agent": {"email": "ghost@example.com"}},  # unknown, and no name to create one
        {**ok, "customer": {"id": str(uuid.uuid4())}},
        {**ok, "unexpected": 1},
    ]
    with api_server.client(headers=company.headers) as client:
        for body in bad:
            r = client.post("/api/tickets", json=body)
            assert r.status_code in (404, 422), (body, r.text)
            assert r.json()["success"] is False
        assert client.get("/api/calls").json()["total"] == 0
        r = client.post("/api/tickets", json=ok)
        assert r.status_code == 201 and r.json()["status"] == "received"

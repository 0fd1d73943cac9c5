"""A customer's journey built through the real ingest APIs: a call (real audio,
transcribed by the pipeline), two chats (ABCD, MIT) of which the second is a transfer a
few minutes after the first, and an email thread sent as two tickets (the Harper Valley
dialogue, Apache-2.0). One customer, linked by phone and email."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from tests.conftest import AUDIO, DATA, CompanyCtx, wait_for_status

ABCD = DATA / "transcripts" / "abcd" / "abcd_sample.json"
HARPER = DATA / "transcripts" / "harper_valley" / "0002f70f7386445b.transcript.json"
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
PHONE = "(977) 625-2661"
EMAIL = "cminh730@email.com"
NAME = "Crystal Minh"


@dataclass
class Journey:
    customer_id: uuid.UUID
    call: str
    chat: str
    transfer: str
    email_first: str
    email_reply: str


def agent_id(
    company: CompanyCtx, name: str = "Dana Agent", ext: str = "EXT-1", email: str | None = None
) -> str:
    from callscribe.accounts import service
    from callscribe.db import session_scope

    with session_scope() as s:
        agent = service.upsert_agent(s, company.id, name=name, extension_id=ext, email=email)
        return str(agent.id)


def chat_messages(convo: int, start: datetime, gap_s: int = 20) -> list[dict]:
    dialogue = json.loads(ABCD.read_text())[convo]["original"]
    return [
        {
            "role": "bot" if role == "action" else role,
            "text": text,
            "sent_at": (start + timedelta(seconds=gap_s * n)).isoformat(),
            # the chat tool signs the customer's messages with their name: never shown
            **({"author": NAME} if role == "customer" else {}),
        }
        for n, (role, text) in enumerate(dialogue)
    ]


def harper_messages(start: datetime) -> list[dict]:
    turns = sorted(json.loads(HARPER.read_text()), key=lambda t: t["start_ms"])
    return [
        {
            "role": "agent" if t["speaker_role"] == "agent" else "customer",
            "text": t["human_transcript"] or t["transcript"] or "(inaudible)",
            "sent_at": (start + timedelta(milliseconds=t["start_ms"])).isoformat(),
        }
        for t in turns
    ]


def customer() -> dict:
    return {"name": NAME, "phone": PHONE, "email": EMAIL}


def ticket(client: httpx.Client, body: dict) -> str:
    r = client.post("/api/tickets", json=body)
    assert r.status_code == 201, r.text
    return r.json()["call_id"]


def build_journey(client: httpx.Client, company: CompanyCtx, *, with_call: bool = True) -> Journey:
    """Ingest the journey through the APIs and wait until every engagement is done."""
    dana = agent_id(company)
    # the chat agents exist before the call is transcribed: on SQLite an agent created by
    # an ingest while the worker writes turns can meet "database is locked" (main's
    # resolve_agent writes before ingest takes the write lock; not this test's subject)
    agent_id(company, "Sam Agent", "EXT-2", "sam@example.com")
    agent_id(company, "Lee Specialist", "EXT-3", "lee@example.com")
    call = ""
    if with_call:
        r = client.post(
            "/api/add-calls",
            files={"call": ("jfk.flac", (AUDIO / "jfk.flac").read_bytes(), "audio/flac")},
            data={
                "customer_name": NAME,
                "customer_phone": PHONE,
                "user_id": dana,
                "direction": "inbound",
                "started_at": T0.isoformat(),
                "external_id": "call-1",
            },
        )
        assert r.status_code == 201, r.text
        call = r.json()["call_id"]
    chat_start = T0 + timedelta(days=1)
    first_chat = chat_messages(0, chat_start)
    chat = ticket(
        client,
        {
            "channel": "chat",
            "external_id": "chat-1",
            "direction": "inbound",
            "agent": {"email": "sam@example.com", "name": "Sam Agent"},
            "customer": customer(),
            "messages": first_chat,
        },
    )
    # a transfer 10 minutes after the chat's last message: within the 30-minute window
    transfer_start = datetime.fromisoformat(first_chat[-1]["sent_at"]) + timedelta(minutes=10)
    transfer = ticket(
        client,
        {
            "channel": "chat",
            "external_id": "chat-2",
            "direction": "inbound",
            "agent": {"email": "lee@example.com", "name": "Lee Specialist"},
            "customer": customer(),
            "messages": chat_messages(1, transfer_start),
        },
    )
    email_start = T0 + timedelta(days=3)
    messages = harper_messages(email_start)
    half = len(messages) // 2
    email_first = ticket(
        client,
        {
            "channel": "email",
            "external_id": "mail-1",
            "thread_id": "thread-77",
            "subject": "Replace card",
            "agent": {"email": "sam@example.com", "name": "Sam Agent"},
            "customer": customer(),
            "messages": messages[:half],
        },
    )
    reply = [  # a reply the next day, in the same thread: far outside the window
        {**m, "sent_at": (datetime.fromisoformat(m["sent_at"]) + timedelta(days=1)).isoformat()}
        for m in messages[half:]
    ]
    email_reply = ticket(
        client,
        {
            "channel": "email",
            "external_id": "mail-2",
            "thread_id": "thread-77",
            "subject": "Re: Replace card",
            "agent": {"email": "sam@example.com", "name": "Sam Agent"},
            "customer": customer(),
            "messages": reply,
        },
    )
    ids = [i for i in (call, chat, transfer, email_first, email_reply) if i]
    for call_id in ids:
        body = wait_for_status(client, call_id, timeout=240)
        assert body["status"] == "completed", body.get("error")
    return Journey(customer_of(chat), call, chat, transfer, email_first, email_reply)


def customer_of(call_id: str) -> uuid.UUID:
    from callscribe.calls.models import Engagement
    from callscribe.db import session_scope

    with session_scope() as s:
        engagement = s.get(Engagement, uuid.UUID(call_id))
        assert engagement is not None and engagement.customer_id is not None
        return engagement.customer_id

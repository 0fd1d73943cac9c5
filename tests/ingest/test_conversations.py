"""Ingest groups engagements into conversations: an explicit conversation_id (from any
source), a ticket/email thread, or a transfer/callback within the company's window."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta

from tests.conftest import AUDIO, CompanyCtx, LiveServer

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CUSTOMER = {"name": "Pat Brown", "phone": "+1 415 555 0134"}


def _chat(client, external_id: str, start: datetime, **extra) -> str:  # type: ignore[no-untyped-def]
    body = {
        "channel": extra.pop("channel", "chat"),
        "external_id": external_id,
        "customer": extra.pop("customer", CUSTOMER),
        "messages": [
            {"role": "customer", "text": "Hello, my card is lost.", "sent_at": start.isoformat()},
            {
                "role": "agent",
                "text": "I can block it for you.",
                "sent_at": (start + timedelta(minutes=2)).isoformat(),
            },
        ],
        **extra,
    }
    r = client.post("/api/tickets", json=body)
    assert r.status_code == 201, r.text
    return r.json()["call_id"]


def _conversations(*ids: str) -> list[uuid.UUID | None]:
    from callscribe.calls.models import Engagement
    from callscribe.db import session_scope

    with session_scope() as s:
        return [s.get(Engagement, uuid.UUID(i)).conversation_id for i in ids]  # type: ignore[union-attr]


def _conversation(conversation_id: uuid.UUID):  # type: ignore[no-untyped-def]
    from callscribe.calls.models import Conversation
    from callscribe.db import session_scope

    with session_scope() as s:
        row = s.get(Conversation, conversation_id)
        s.expunge(row)
        return row


def test_transfer_within_the_window_joins_and_a_later_contact_does_not(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    with api_server.client(headers=company.headers) as client:
        first = _chat(client, "a", T0)
        transfer = _chat(client, "b", T0 + timedelta(minutes=20))  # 18 min after the end
        later = _chat(client, "c", T0 + timedelta(minutes=60))  # 38 min after: new
        other_customer = _chat(
            client, "d", T0 + timedelta(minutes=5), customer={"name": "Someone Else"}
        )
        other_source = _chat(client, "e", T0 + timedelta(minutes=6), channel="email")
    a, b, c, d, e = _conversations(first, transfer, later, other_customer, other_source)
    assert a is not None and a == b
    assert len({a, c, d}) == 3
    assert e == a  # same customer and source (tickets) within the window: email joins
    conv = _conversation(a)
    assert conv.kind == "window" and conv.channels == ["chat", "email"]
    assert conv.started_at == T0 and conv.last_at == T0 + timedelta(minutes=22)
    assert conv.pid is not None


def test_window_is_the_company_setting(api_server: LiveServer, company: CompanyCtx) -> None:
    with api_server.client(headers=company.headers) as client:
        r = client.put("/api/settings/ai", json={"conversation_window_min": 5})
        assert r.status_code == 200 and r.json()["conversation_window_min"] == 5
        assert (
            client.put("/api/settings/ai", json={"conversation_window_min": -1}).status_code == 422
        )
        assert (
            client.put("/api/settings/ai", json={"conversation_window_min": None}).status_code
            == 200
        )
        first = _chat(client, "a", T0)
        near = _chat(client, "b", T0 + timedelta(minutes=6))  # 4 min after: joins
        far = _chat(client, "c", T0 + timedelta(minutes=20))  # 12 min after: not with 5
    a, b, c = _conversations(first, near, far)
    assert a == b and c != a


def test_thread_and_explicit_conversation_ids_group_across_time_and_sources(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    """GIVEN two emails of one thread a week apart, and a call uploaded through
    add-calls plus a chat through tickets with the same conversation_id
    THEN each pair is one conversation; the same thread id without the thread is not."""
    with api_server.client(headers=company.headers) as client:
        mail1 = _chat(client, "m1", T0, channel="email", thread_id="T-1")
        mail2 = _chat(client, "m2", T0 + timedelta(days=7), channel="email", thread_id="T-1")
        lone = _chat(client, "m3", T0 + timedelta(days=7, minutes=1), channel="email")
        r = client.post(
            "/api/add-calls",
            files={"call": ("jfk.flac", io.BytesIO((AUDIO / "jfk.flac").read_bytes()))},
            data={
                "customer_phone": "+1 212 555 0199",
                "started_at": (T0 + timedelta(days=30)).isoformat(),
                "conversation_id": "CASE-9",
            },
        )
        assert r.status_code == 201, r.text
        call = r.json()["call_id"]
        chat = _chat(
            client,
            "x1",
            T0 + timedelta(days=40),
            customer={"name": "Another", "phone": "+1 212 555 0199"},
            conversation_id="CASE-9",
        )
        # bad input: refused with a message, nothing stored
        too_long = client.post(
            "/api/tickets",
            json={
                "channel": "chat",
                "thread_id": "x" * 201,
                "messages": [{"role": "customer", "text": "hi"}],
            },
        )
        assert too_long.status_code == 422 and "thread_id" in too_long.text
    m1, m2, m3, c1, c2 = _conversations(mail1, mail2, lone, call, chat)
    assert m1 == m2 and m3 != m1
    assert c1 == c2
    thread, explicit = _conversation(m1), _conversation(c1)
    assert thread.kind == "thread" and thread.external_id == "T-1"
    assert explicit.kind == "explicit" and explicit.external_id == "CASE-9"
    assert explicit.channels == ["chat", "voice"]
    assert explicit.started_at == T0 + timedelta(days=30)


def test_sheet_rows_group_by_thread_and_conversation_columns(
    live_server: LiveServer, company: CompanyCtx
) -> None:
    import time

    mapping = {
        "text": "Transcript",
        "external_id": "ID",
        "customer_name": "Customer",
        "thread_id": "Thread",
        "conversation_id": "Case",
    }
    rows = [
        {"ID": "s1", "Transcript": "Customer: hi\nAgent: hello", "Customer": "A", "Thread": "T9"},
        {"ID": "s2", "Transcript": "Customer: again\nAgent: yes", "Customer": "B", "Thread": "T9"},
        {"ID": "s3", "Transcript": "Customer: one\nAgent: ok", "Customer": "C", "Case": "K1"},
        {"ID": "s4", "Transcript": "Customer: two\nAgent: ok", "Customer": "D", "Case": "K1"},
    ]
    with live_server.client(headers=company.headers) as client:
        sid = client.post("/api/sheets", json={"mapping": mapping}).json()["id"]
        assert client.post(f"/api/sheets/{sid}/rows", json=rows).status_code == 200
        assert client.post(f"/api/sheets/{sid}/finalize").status_code == 202
        deadline = time.time() + 120
        while (sheet := client.get(f"/api/sheets/{sid}").json())["status"] != "completed":
            assert time.time() < deadline, sheet
            time.sleep(0.3)
    assert not sheet["errors"], sheet["errors"]
    a, b, c, d = _conversations(*sheet["call_ids"])
    assert a == b and c == d and a != c

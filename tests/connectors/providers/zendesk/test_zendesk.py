"""What is particular to Zendesk: its webhook signature (HMAC-SHA256 of timestamp +
body, base64), the incremental export's cursor paging and rate limit, a ticket's
comments as turns with internal notes kept apart, CSAT and group, and a ticket gaining
comments updating its one engagement."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.conftest import CompanyCtx, LiveServer
from tests.connectors.conftest import Tracks, add_connector, calls_of
from tests.connectors.providers.zendesk.kit import AGENT_ID, ZendeskKit
from tests.connectors.providers.zendesk.server import ZComment, ZTicket, ZUser, iso
from tests.connectors.test_contract import all_refs, client, outbound_env  # noqa: F401

URL = "https://callscribe.example.com/api/webhooks/zendesk/1"


@pytest.fixture
def kit(tracks: Tracks):  # type: ignore[no-untyped-def]
    kit = ZendeskKit(tracks)
    yield kit
    kit.server.stop()


def _signed(secret: str, body: bytes, stamp: str) -> str:
    # written from Zendesk's "Verifying webhook authenticity": base64(HMACSHA256(TIMESTAMP + BODY))
    return base64.b64encode(
        hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).digest()
    ).decode()


def _request(body: bytes, signature: str, stamp: str):  # type: ignore[no-untyped-def]
    from callscribe.connectors.base import WebhookRequest

    return WebhookRequest(
        url=URL,
        headers={
            "x-zendesk-webhook-signature": signature,
            "x-zendesk-webhook-signature-timestamp": stamp,
        },
        body=body,
    )


def test_signature_is_checked_zendesks_way_one_changed_byte_or_a_stale_timestamp_refused(
    kit: ZendeskKit,
    outbound_env: None,  # noqa: F811
) -> None:
    from callscribe.errors import BadRequest, Unauthorized

    c = client(kit)
    secret = kit.server.signing_secret
    body = b'{"ticket_id": "4711", "updated_at": "2026-12-01T10:00:00Z"}'
    now = iso(datetime.now(UTC))
    good = c.verify_webhook(_request(body, _signed(secret, body, now), now), "ours-unused")
    assert [(r.external_id, r.updatable) for r in good.refs] == [("4711", True)]

    changed_body = body.replace(b"4711", b"4712")
    signature = _signed(secret, body, now)
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    stale = iso(datetime.now(UTC) - timedelta(minutes=6))
    future = iso(datetime.now(UTC) + timedelta(minutes=6))
    refused = [
        _request(changed_body, signature, now),  # one byte of the body
        _request(body, flipped, now),  # one byte of the signature
        _request(body, _signed(secret, body, stale), stale),  # rightly signed, too old
        _request(body, _signed(secret, body, future), future),
        _request(body, _signed("another-secret", body, now), now),
        _request(body, "", now),
    ]
    for request in refused:
        with pytest.raises(Unauthorized) as err:
            c.verify_webhook(request, "ours-unused")
        assert secret not in err.value.message
    with pytest.raises(Unauthorized) as err:
        c.verify_webhook(_request(body, _signed(secret, body, stale), stale), "")
    assert "replay" in err.value.message

    no_secret = client(kit)
    no_secret.signing_secret = ""
    with pytest.raises(Unauthorized) as err:
        no_secret.verify_webhook(_request(body, signature, now), "")
    assert "signing secret" in err.value.message

    for bad in (b'{"id": 1}', b'{"ticket_id": "{{ticket.id}}"}', b"not json"):
        with pytest.raises(BadRequest) as bad_err:
            c.verify_webhook(_request(bad, _signed(secret, bad, now), now), "")
        assert bad_err.value.code == "malformed_body"


def test_a_ticket_is_its_public_comments_with_notes_apart_csat_group_and_people(
    kit: ZendeskKit,
    outbound_env: None,  # noqa: F811
) -> None:
    server = kit.server
    server.comments_per_page = 2  # the comments come in three pages
    cc = server.add_user(ZUser(3001, "Chris Colleague", "chris@example.com"))
    ticket_id = int(kit.add_call(1, minutes_ago=40))
    ticket = server.tickets[ticket_id]
    ticket.satisfaction = {"score": "good", "comment": "Quick and kind"}
    ticket.priority, ticket.status = "high", "solved"
    t0 = ticket.created_at
    server.add_comment(
        ticket_id,
        ZComment(
            9001, AGENT_ID, "Card on file 4111 1111 1111 1111, refund ok", t0 + timedelta(minutes=1)
        ),
    )
    server.add_comment(ticket_id, ZComment(9001, AGENT_ID, "", t0 + timedelta(minutes=2)))
    server.add_comment(
        ticket_id, ZComment(9002, cc.id, "Thanks from me too", t0 + timedelta(minutes=3))
    )
    ticket.comments[2].public = False  # the card note is internal

    call = client(kit).fetch_call(all_refs(client(kit))[0])

    assert call.channel == "ticket" and call.thread_id == str(ticket_id)
    assert [(t.role, t.text) for t in call.turns or []] == [
        ("customer", "My order never arrived."),
        ("agent", "Sorry about that, I am sending a new one today."),
        ("customer", "Thanks from me too"),  # a CC'd end user is on the customer's side
    ]
    assert [t.speaker for t in call.turns or []] == ["Customer 1", "Dana Agent", "Chris Colleague"]
    assert "4111" not in json.dumps([t.text for t in call.turns or []])
    (note,) = call.meta["internal_notes"]
    assert note["author"] == "Dana Agent" and "refund ok" in note["text"]
    assert "4111 1111" not in note["text"]  # masked: meta is shown as stored
    assert call.columns["facts"] == {"csat": 1.0, "internal_notes": 1.0}
    assert call.columns["attributes"] == {
        "status": "solved",
        "priority": "high",
        "type": "question",
        "tags": "refund",
        "channel": "email",
        "csat": "good",
    }
    assert call.columns["queue"] == "Billing"
    assert call.meta["provider"]["csat_comment"] == "Quick and kind"
    assert (call.customer_email, call.customer_phone, call.customer_name) == (
        "customer1@example.com",
        "+15550100001",
        "Customer 1",
    )
    assert call.agent is not None and (call.agent.external_id, call.agent.name) == (
        str(AGENT_ID),
        "Dana Agent",
    )
    assert call.direction == "inbound" and call.started_at == t0
    pages = [q.get("page", ["1"])[0] for _m, p, q, _h in server.requests if "comments" in p]
    assert pages == ["1", "2", "3"]


def test_the_export_pages_by_cursor_and_waits_out_a_429(
    kit: ZendeskKit,
    outbound_env: None,  # noqa: F811
) -> None:
    from callscribe.connectors.base import ProviderError

    kit.server.max_per_page = 2
    ids = [kit.add_call(n, minutes_ago=100 - n) for n in range(1, 6)]
    c = client(kit)
    kit.server.rate_limited, kit.server.retry_after = 1, "1"
    began = time.monotonic()
    pages = list(c.list_calls(None))
    assert time.monotonic() - began >= 1.0  # Retry-After honoured, not hammered
    assert [r.external_id for p in pages for r in p.calls] == ids
    assert all(p.cursor and p.cursor["cursor"] for p in pages)
    exports = [q for _m, p, q, _h in kit.server.requests if p.endswith("/cursor.json")]
    assert "start_time" in exports[0] and all("cursor" in q for q in exports[2:])
    assert len(exports) == 4  # the 429, then 3 pages of 2
    # from the last page's cursor: nothing new, then only the ticket changed since
    assert all_refs(c, pages[-1].cursor) == []
    kit.server.add_comment(
        int(ids[1]), ZComment(1, 1001, "Any news?", datetime.now(UTC) - timedelta(minutes=2))
    )
    assert [r.external_id for r in all_refs(c, pages[-1].cursor)] == [ids[1]]

    kit.server.rate_limited, kit.server.retry_after = 10, "0"
    with pytest.raises(ProviderError) as err:
        all_refs(c)
    assert err.value.transient and err.value.code == "provider_rate_limited"


def test_a_non_admin_is_told_the_export_needs_an_admin(
    kit: ZendeskKit,
    outbound_env: None,  # noqa: F811
) -> None:
    from callscribe.connectors.base import ProviderAuthError
    from callscribe.connectors.helpdesk import same_origin_path

    kit.server.users[1].role = "agent"
    with pytest.raises(ProviderAuthError) as err:
        client(kit).test_connection()
    assert err.value.code == "provider_permission_denied" and "admin" in err.value.message
    with pytest.raises(Exception, match="points elsewhere"):  # credentials stay home
        same_origin_path("https://evil.example.com/api/v2/x.json", kit.server.base_url)


def _turns(call_id: uuid.UUID) -> list[tuple[str, str]]:
    from sqlalchemy import select

    from callscribe.calls.models import Turn
    from callscribe.db import session_scope

    with session_scope() as s:
        rows = s.scalars(select(Turn).where(Turn.engagement_id == call_id).order_by(Turn.seq))
        return [(t.role, t.text) for t in rows]


def test_a_new_comment_updates_the_same_engagement_by_sync_and_by_webhook(
    api_server: LiveServer, company: CompanyCtx, kit: ZendeskKit
) -> None:
    from callscribe.connectors import service, sync, webhooks
    from tests.connectors.conftest import connector_row

    ticket_id = kit.add_call(1, minutes_ago=30)
    cid = add_connector(company, "zendesk", kit.server, credentials=kit.credentials())
    assert sync.sync_connector(cid).imported == 1
    (first,) = calls_of(company, "zendesk")
    assert len(_turns(first.id)) == 2

    # the customer answers and rates the ticket; the export shows it after a minute
    ticket = kit.server.tickets[int(ticket_id)]
    ticket.satisfaction = {"score": "bad", "comment": None}
    kit.server.add_comment(
        int(ticket_id),
        ZComment(77, 1001, "It still has not come.", datetime.now(UTC) - timedelta(minutes=2)),
    )
    again = sync.sync_connector(cid)
    assert (again.status, again.imported, again.failed) == ("succeeded", 1, 0), again.error
    (same,) = calls_of(company, "zendesk")
    assert same.id == first.id and same.conversation_id == first.conversation_id
    assert _turns(same.id)[-1] == ("customer", "It still has not come.")
    assert same.facts["csat"] == 0.0 and same.attributes["csat"] == "bad"

    # a trigger's webhook after the agent's reply: the same engagement again
    connector = connector_row(cid)
    kit.server.add_comment(int(ticket_id), ZComment(78, AGENT_ID, "Refunded.", datetime.now(UTC)))

    def deliver() -> httpx.Response:
        request = kit.delivery(ticket_id, url=service.webhook_url(connector))
        assert request.url.startswith(api_server.url)  # the public URL is the server's
        return httpx.post(request.url, content=request.body, headers=request.headers)

    answer = deliver()
    assert answer.status_code == 202 and answer.json()["status"] == "accepted", answer.text
    (event_id,) = answer.json()["event_ids"]
    assert webhooks.import_event(event_id) == "updated"
    assert deliver().json()["status"] == "duplicate"  # the same body again: a re-delivery
    (still,) = calls_of(company, "zendesk")
    assert still.id == first.id
    assert [r for r, _ in _turns(still.id)] == ["customer", "agent", "customer", "agent"]


def test_a_zendesk_ticket_by_email_and_a_phone_call_make_one_journey(
    api_server: LiveServer, company: CompanyCtx, kit: ZendeskKit
) -> None:
    """GIVEN a customer the CRM knows by phone and email, a phone call from them (the
    upload API, by phone) and a Zendesk ticket they wrote (the requester has only the
    email) THEN both engagements are that customer's, in one journey."""
    from callscribe.connectors import sync
    from tests.conftest import AUDIO

    with httpx.Client(base_url=api_server.url, headers=company.headers, timeout=30) as api:
        made = api.post(
            "/api/customers",
            json={"name": "Crystal Minh", "phones": ["+1 977 625 2661"], "emails": ["cm@ex.com"]},
        )
        assert made.status_code == 201, made.text
        voice = api.post(
            "/api/add-calls",
            files={"call": ("jfk.flac", (AUDIO / "jfk.flac").read_bytes(), "audio/flac")},
            data={"customer_phone": "(977) 625-2661", "external_id": "call-1"},
        )
        assert voice.status_code == 201, voice.text
        kit.server.add_user(ZUser(4242, "C. Minh", "CM@ex.com"))  # no phone in Zendesk
        created = datetime.now(UTC) - timedelta(minutes=20)
        kit.server.add_ticket(
            ZTicket(77, 4242, created, created, assignee_id=AGENT_ID, group_id=360)
        ).comments += [
            ZComment(1, 4242, "Following up on my call: still no parcel.", created),
            ZComment(2, AGENT_ID, "I have escalated it.", created),
        ]
        cid = add_connector(company, "zendesk", kit.server, credentials=kit.credentials())
        assert sync.sync_connector(cid).imported == 1
        (ticket,) = calls_of(company, "zendesk")
        customer_id = made.json()["customer_id"]
        assert str(ticket.customer_id) == customer_id
        journey = api.get(f"/api/customers/{customer_id}/journey")
        assert journey.status_code == 200, journey.text
    conversations = journey.json()["conversations"]
    assert sorted(c["channels"][0] for c in conversations) == ["ticket", "voice"]
    ids = {e["id"] for c in conversations for e in c["engagements"]}
    assert ids == {voice.json()["call_id"], str(ticket.id)}

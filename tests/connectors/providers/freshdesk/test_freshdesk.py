"""What is particular to Freshdesk: the secret header of an automation's webhook, the
ticket's description and conversations as turns with private notes kept apart, the
satisfaction survey's rating, Link-header paging, its 429, and a ticket gaining a reply
updating its one engagement."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.conftest import CompanyCtx, LiveServer
from tests.connectors.conftest import Tracks, add_connector, calls_of
from tests.connectors.providers.freshdesk.kit import AGENT_ID, FreshdeskKit
from tests.connectors.providers.freshdesk.server import FConversation, iso
from tests.connectors.test_contract import all_refs, client, outbound_env  # noqa: F401

URL = "https://callscribe.example.com/api/webhooks/freshdesk/1"


@pytest.fixture
def kit(tracks: Tracks):  # type: ignore[no-untyped-def]
    kit = FreshdeskKit(tracks)
    yield kit
    kit.server.stop()


def test_the_webhook_takes_our_secret_header_and_a_ticket_id(
    kit: FreshdeskKit,
    outbound_env: None,  # noqa: F811
) -> None:
    from callscribe.connectors.base import WebhookRequest
    from callscribe.errors import BadRequest, Unauthorized

    c = client(kit)
    secret = "cvwh_" + "s" * 32

    def request(body: bytes, header: str | None = secret) -> WebhookRequest:
        headers = {"x-callscribe-secret": header} if header is not None else {}
        return WebhookRequest(url=URL, headers=headers, body=body)

    body = b'{"ticket_id": "31", "status": "Open", "event": "{ticket_action:created}"}'
    (ref,) = c.verify_webhook(request(body), secret).refs
    assert (ref.external_id, ref.updatable) == ("31", True)
    replied = body.replace(b"ticket_action:created", b"reply_sent:sent")
    (other,) = c.verify_webhook(request(replied), secret).refs
    assert other.data["version"] != ref.data["version"]  # a change, not a re-delivery
    for refused in (request(body, secret[:-1] + "t"), request(body, None), request(body, "")):
        with pytest.raises(Unauthorized) as err:
            c.verify_webhook(refused, secret)
        assert secret not in err.value.message
    with pytest.raises(Unauthorized):
        c.verify_webhook(request(body), "")  # a connector without a secret takes nothing
    for bad in (b"[]", b'{"ticket_id": true}', b'{"ticket_id": "{{ticket.id}}"}', b"x"):
        with pytest.raises(BadRequest) as bad_err:
            c.verify_webhook(request(bad), secret)
        assert bad_err.value.code == "malformed_body"


def test_a_ticket_is_its_description_and_replies_with_private_notes_apart_and_its_rating(
    kit: FreshdeskKit,
    outbound_env: None,  # noqa: F811
) -> None:
    server = kit.server
    ticket_id = int(kit.add_call(1, minutes_ago=60))
    ticket = server.tickets[ticket_id]
    t0 = ticket.created_at
    ticket.conversations += [
        FConversation(
            1, AGENT_ID, "Customer reads card 4111 1111 1111 1111 aloud", t0, private=True
        ),
        FConversation(
            2,
            ticket.requester_id,
            "It works now, thanks!",
            t0 + timedelta(minutes=5),
            incoming=True,
        ),
    ]

    def rated(rating_id: int, ticket: int, value: int, minutes: int) -> dict:
        at = iso(t0 + timedelta(minutes=minutes))
        return {
            "id": rating_id,
            "survey_id": 1,
            "ticket_id": ticket,
            "user_id": requester,
            "ratings": {"default_question": value},
            "feedback": "Great" if value > 0 else None,
            "created_at": at,
            "updated_at": at,
        }

    requester = ticket.requester_id
    server.ratings += [rated(1, ticket_id, 103, 9), rated(2, 999, -103, 8)]  # 999: another

    call = client(kit).fetch_call(all_refs(client(kit))[0])

    assert call.channel == "ticket" and call.thread_id == str(ticket_id)
    assert [(t.role, t.text, t.speaker) for t in call.turns or []] == [
        ("customer", "I cannot log in to my account.", "Customer 1"),
        ("agent", "I have reset your password.", "Dana Agent"),
        ("customer", "It works now, thanks!", "Customer 1"),
    ]
    (note,) = call.meta["internal_notes"]
    assert note["author"] == "Dana Agent" and "aloud" in note["text"]
    assert "4111 1111" not in note["text"]
    assert call.columns["facts"] == {"csat": 103.0, "internal_notes": 1.0}
    assert call.columns["attributes"] == {
        "status": "open",
        "priority": "low",
        "type": "Question",
        "tags": "login",
        "channel": "email",
        "csat": "happy",
    }
    assert call.columns["queue"] == "Tier 1"
    assert call.meta["provider"]["csat_comment"] == "Great"
    assert (call.customer_email, call.customer_phone) == (
        "fd-customer1@example.com",
        "+15550200001",
    )
    assert call.agent is not None and call.agent.name == "Dana Agent"
    asked = [q for _m, p, q, _h in server.requests if p.endswith("satisfaction_ratings")]
    assert asked[0]["user_id"] == [str(ticket.requester_id)] and asked[0]["created_since"]


def test_listing_follows_the_link_header_and_waits_out_a_429(
    kit: FreshdeskKit,
    outbound_env: None,  # noqa: F811
) -> None:
    ids = [kit.add_call(n, minutes_ago=1000 - n) for n in range(1, 151)]
    c = client(kit)
    kit.server.rate_limited = 1
    began = time.monotonic()
    refs = all_refs(c)
    assert time.monotonic() - began >= 1.0  # Retry-After: 1 honoured
    assert [r.external_id for r in refs] == ids
    listed = [q for _m, p, q, _h in kit.server.requests if p == "/api/v2/tickets"]
    assert [q.get("page", ["1"])[0] for q in listed] == ["1", "1", "2"]  # the 429, then 2
    assert listed[1]["order_by"] == ["updated_at"] and listed[1]["order_type"] == ["asc"]
    later = all_refs(c, c.cursor_for(refs[-1].created_at))
    assert [r.external_id for r in later] == [ids[-1]]  # inclusive, and nothing older


def _turn_roles(call_id: uuid.UUID) -> list[str]:
    from sqlalchemy import select

    from callscribe.calls.models import Turn
    from callscribe.db import session_scope

    with session_scope() as s:
        stmt = select(Turn.role).where(Turn.engagement_id == call_id).order_by(Turn.seq)
        return list(s.scalars(stmt))


def test_a_reply_updates_the_same_engagement_by_sync_and_by_webhook(
    api_server: LiveServer, company: CompanyCtx, kit: FreshdeskKit
) -> None:
    from callscribe.connectors import service, sync, webhooks
    from tests.connectors.conftest import connector_row

    ticket_id = kit.add_call(1, minutes_ago=30)
    cid = add_connector(company, "freshdesk", kit.server, credentials=kit.credentials())
    assert sync.sync_connector(cid).imported == 1
    (first,) = calls_of(company, "freshdesk")
    assert _turn_roles(first.id) == ["customer", "agent"]

    ticket = kit.server.tickets[int(ticket_id)]
    kit.server.add_conversation(
        int(ticket_id),
        FConversation(
            7, ticket.requester_id, "Still locked out.", datetime.now(UTC), incoming=True
        ),
    )
    again = sync.sync_connector(cid)
    assert (again.status, again.imported, again.failed) == ("succeeded", 1, 0), again.error
    (same,) = calls_of(company, "freshdesk")
    assert same.id == first.id and _turn_roles(same.id) == ["customer", "agent", "customer"]

    connector = connector_row(cid)
    secret = service.webhook_secret(connector)
    kit.server.add_conversation(
        int(ticket_id), FConversation(8, AGENT_ID, "Unlocked it.", datetime.now(UTC))
    )
    ticket.status = 4  # resolved: the rule's body changes with it

    def deliver(event: str) -> httpx.Response:
        request = kit.delivery(
            ticket_id, url=service.webhook_url(connector), secret=secret, event=event
        )
        return httpx.post(request.url, content=request.body, headers=request.headers)

    answer = deliver("{reply_sent:sent}")
    assert answer.status_code == 202 and answer.json()["status"] == "accepted", answer.text
    assert webhooks.import_event(answer.json()["event_ids"][0]) == "updated"
    assert deliver("{reply_sent:sent}").json()["status"] == "duplicate"
    (still,) = calls_of(company, "freshdesk")
    assert still.id == first.id and still.attributes["status"] == "resolved"
    assert _turn_roles(still.id) == ["customer", "agent", "customer", "agent"]

"""Issue 19's "whole journey": a customer who called through Twilio and wrote through
Zendesk — two providers, two connectors of one company, each speaking its own protocol
from its local server — has one journey holding both, because both imports resolve the
customer through the one ingest path (here by the phone number both know)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.conftest import CompanyCtx, LiveServer
from tests.connectors.conftest import Tracks, add_connector, calls_of
from tests.connectors.providers.twilio.kit import TwilioKit
from tests.connectors.providers.zendesk.kit import AGENT_ID, ZendeskKit
from tests.connectors.providers.zendesk.server import ZComment, ZTicket, ZUser


def test_a_twilio_call_and_a_zendesk_ticket_of_one_customer_are_one_journey(
    api_server: LiveServer, company: CompanyCtx, tracks: Tracks
) -> None:
    from callscribe.connectors import sync

    twilio, zendesk = TwilioKit(tracks), ZendeskKit(tracks)
    try:
        recording = twilio.add_call(7, minutes_ago=90)  # from +15550100007
        phone = twilio.server.calls[twilio.server.recordings[recording].call_sid].from_
        zendesk.server.add_user(ZUser(4242, "Crystal Minh", "crystal@example.com", phone=phone))
        opened = datetime.now(UTC) - timedelta(minutes=30)
        ticket = zendesk.server.add_ticket(
            ZTicket(88, 4242, opened, opened, assignee_id=AGENT_ID, group_id=360)
        )
        ticket.comments += [
            ZComment(1, 4242, "I called you earlier about my refund; nothing yet.", opened),
            ZComment(2, AGENT_ID, "Sorry about that, I have sent it again.", opened),
        ]
        voice_connector = add_connector(
            company, "twilio", twilio.server, credentials=twilio.credentials()
        )
        ticket_connector = add_connector(
            company, "zendesk", zendesk.server, credentials=zendesk.credentials()
        )
        assert sync.sync_connector(voice_connector).imported == 1
        assert sync.sync_connector(ticket_connector).imported == 1
    finally:
        twilio.server.stop()
        zendesk.server.stop()

    (call,) = calls_of(company, "twilio")
    (written,) = calls_of(company, "zendesk")
    assert (call.channel, written.channel) == ("voice", "ticket")
    assert call.customer_id is not None and written.customer_id == call.customer_id
    with httpx.Client(base_url=api_server.url, headers=company.headers, timeout=30) as api:
        journey = api.get(f"/api/customers/{call.customer_id}/journey")
        assert journey.status_code == 200, journey.text
    ids = {e["id"] for c in journey.json()["conversations"] for e in c["engagements"]}
    assert ids == {str(call.id), str(written.id)}
    channels = sorted(ch for c in journey.json()["conversations"] for ch in c["channels"])
    assert channels == ["ticket", "voice"]

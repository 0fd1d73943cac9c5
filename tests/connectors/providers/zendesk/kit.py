"""The Zendesk kit for the shared contract and flow tests (see ../README.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from callscribe.connectors.base import WebhookRequest
from tests.connectors.conftest import Tracks
from tests.connectors.providers.zendesk.server import FakeZendesk, ZComment, ZTicket, ZUser, iso

ADMIN_ID, AGENT_ID = 1, 2


class ZendeskKit:
    type = "zendesk"
    channel = "ticket"
    in_progress = False  # the export lists tickets as they are: none is "in progress"

    def __init__(self, tracks: Tracks):
        self.server = FakeZendesk().start()
        self.server.add_user(ZUser(ADMIN_ID, "Ada Admin", self.server.email, role="admin"))
        self.server.add_user(ZUser(AGENT_ID, "Dana Agent", "dana@acme.test", role="agent"))
        self.server.groups[360] = "Billing"

    def credentials(self, good: bool = True) -> dict[str, str]:
        return {
            "email": self.server.email,
            "api_token": self.server.api_token if good else "wrong-password-123",
            "webhook_secret": self.server.signing_secret,
        }

    def secret(self) -> str:
        return self.server.api_token

    def at(self, minutes_ago: int) -> datetime:
        return datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes_ago)

    def add_call(self, n: int, minutes_ago: int, *, complete: bool = True) -> str:
        ticket_id = 100 + n
        customer = self.server.add_user(
            ZUser(1000 + n, f"Customer {n}", f"customer{n}@example.com", phone=f"+1555010{n:04d}")
        )
        created = self.at(minutes_ago)
        ticket = self.server.add_ticket(
            ZTicket(
                id=ticket_id,
                requester_id=customer.id,
                assignee_id=AGENT_ID,
                group_id=360,
                created_at=created,
                updated_at=created,
                tags=["refund"],
            )
        )
        ticket.comments += [
            ZComment(ticket_id * 10, customer.id, "My order never arrived.", created),
            ZComment(
                ticket_id * 10 + 1,
                AGENT_ID,
                "Sorry about that, I am sending a new one today.",
                created,
            ),
        ]
        return str(ticket_id)

    def break_call(self, external_id: str) -> None:
        self.server.broken.add(int(external_id))

    def mend(self) -> None:
        self.server.broken.clear()

    def delivery(
        self, external_id: str, *, url: str, secret: str = "", valid: bool = True
    ) -> WebhookRequest:
        """What a Zendesk trigger's webhook sends: our JSON body, signed with the
        webhook's signing secret (Zendesk's; `secret`, ours, is not used)."""
        ticket = self.server.tickets[int(external_id)]
        body = json.dumps(
            {"ticket_id": external_id, "updated_at": iso(ticket.updated_at)}  # our template
        ).encode()
        stamp = iso(datetime.now(UTC))
        signature = self.server.sign(body, stamp)
        if not valid:  # one byte of the proof changed
            signature = ("A" if signature[0] != "A" else "B") + signature[1:]
        return WebhookRequest(
            url=url,
            headers={
                "content-type": "application/json",
                "x-zendesk-webhook-id": "01GZ0000WEBHOOK",
                "x-zendesk-webhook-invocation-id": f"inv-{external_id}",
                "x-zendesk-webhook-signature": signature,
                "x-zendesk-webhook-signature-timestamp": stamp,
            },
            body=body,
            content_type="application/json",
        )


KIT = ZendeskKit

"""The Freshdesk kit for the shared contract and flow tests (see ../README.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from callscribe.connectors.base import WebhookRequest
from tests.connectors.conftest import Tracks
from tests.connectors.providers.freshdesk.server import (
    FakeFreshdesk,
    FContact,
    FConversation,
    FTicket,
)

ME_ID, AGENT_ID, GROUP_ID = 1, 2, 77


class FreshdeskKit:
    type = "freshdesk"
    channel = "ticket"
    in_progress = False  # the listing has tickets as they are: none is "in progress"

    def __init__(self, tracks: Tracks):
        self.server = FakeFreshdesk().start()
        self.server.agents[ME_ID] = FContact(ME_ID, "Ada Admin", "ada@acme.test")
        self.server.agents[AGENT_ID] = FContact(AGENT_ID, "Dana Agent", "dana@acme.test")
        self.server.me_id = ME_ID
        self.server.groups[GROUP_ID] = "Tier 1"

    def credentials(self, good: bool = True) -> dict[str, str]:
        return {"api_key": self.server.api_key if good else "wrong-password-123"}

    def secret(self) -> str:
        return self.server.api_key

    def at(self, minutes_ago: int) -> datetime:
        return datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes_ago)

    def add_call(self, n: int, minutes_ago: int, *, complete: bool = True) -> str:
        ticket_id = 200 + n
        contact = FContact(5000 + n, f"Customer {n}", f"fd-customer{n}@example.com")
        contact.phone = f"+1555020{n:04d}"
        self.server.contacts[contact.id] = contact
        created = self.at(minutes_ago)
        ticket = self.server.add_ticket(
            FTicket(
                id=ticket_id,
                requester_id=contact.id,
                description_text="I cannot log in to my account.",
                created_at=created,
                updated_at=created,
                responder_id=AGENT_ID,
                group_id=GROUP_ID,
                tags=["login"],
            )
        )
        ticket.conversations.append(
            FConversation(ticket_id * 10, AGENT_ID, "I have reset your password.", created)
        )
        return str(ticket_id)

    def break_call(self, external_id: str) -> None:
        self.server.broken.add(int(external_id))

    def mend(self) -> None:
        self.server.broken.clear()

    def delivery(
        self,
        external_id: str,
        *,
        url: str,
        secret: str = "",
        valid: bool = True,
        event: str = "{ticket_action:created}",
    ) -> WebhookRequest:
        """What a Freshdesk automation's 'Trigger webhook' sends: the JSON body we gave it
        with our secret in the custom header."""
        proof = secret if valid else ("x" if secret[:1] != "x" else "y") + secret[1:]
        ticket = self.server.tickets[int(external_id)]
        status = {2: "Open", 3: "Pending", 4: "Resolved", 5: "Closed"}[ticket.status]
        body = json.dumps(  # our template, filled in
            {"ticket_id": external_id, "status": status, "event": event}
        ).encode()
        return WebhookRequest(
            url=url,
            headers={"content-type": "application/json", "x-callscribe-secret": proof},
            body=body,
            content_type="application/json",
        )


KIT = FreshdeskKit

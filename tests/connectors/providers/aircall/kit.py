"""The Aircall kit for the shared contract and flow tests (tests/connectors/providers/)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from callscribe.connectors.base import WebhookRequest
from tests.connectors.conftest import Tracks
from tests.connectors.providers.aircall.server import AircallCall, FakeAircall

AGENT = {
    "id": 736640,
    "direct_link": "https://api.aircall.io/v1/users/736640",
    "name": "Dana Agent",
    "email": "dana@example.com",
    "available": True,
    "availability_status": "available",
    "language": "en-US",
}


class AircallKit:
    type = "aircall"
    in_progress = True  # /v1/calls lists calls still going on (status answered)

    def __init__(self, tracks: Tracks):
        self.server = FakeAircall().start()
        self.tracks = tracks

    def credentials(self, good: bool = True) -> dict[str, str]:
        return {
            "api_id": self.server.api_id,
            "api_token": self.server.api_token if good else "f" * 32,
            "webhook_token": self.server.webhook_token,
        }

    def secret(self) -> str:
        return self.server.api_token

    def at(self, minutes_ago: int) -> datetime:
        return datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes_ago)

    def add_call(self, n: int, minutes_ago: int, *, complete: bool = True) -> str:
        start = int(self.at(minutes_ago).timestamp())
        call = AircallCall(
            id=780836000 + n,
            started_at=start,
            answered_at=start + 4,
            ended_at=start + 20 if complete else None,
            status="done" if complete else "answered",
            user=dict(AGENT),
            raw_digits=f"+44 330 818 {n:04d}",
            recording=self.tracks.mixed if complete else None,
        )
        self.server.add(call)
        return str(call.id)

    def break_call(self, external_id: str) -> None:
        self.server.store.fail_paths[f"/recordings/call-{external_id}-"] = 503

    def mend(self) -> None:
        self.server.store.fail_paths.clear()
        self.server.fail_paths.clear()

    def delivery(
        self,
        external_id: str,
        *,
        url: str,
        secret: str = "",
        valid: bool = True,
        event: str = "call.ended",
    ) -> WebhookRequest:
        body = self.server.event(self.server.calls[int(external_id)], event)
        if not valid:  # one byte of the proof changed
            token = body["token"]
            body["token"] = ("0" if token[0] != "0" else "1") + token[1:]
        return WebhookRequest(
            url=url,
            headers={"content-type": "application/json", "user-agent": "Aircall-Webhook"},
            body=json.dumps(body).encode(),
            content_type="application/json",
        )


KIT = AircallKit

"""The RingCentral kit the shared contract and flow tests drive."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from callscribe.connectors.base import WebhookRequest
from tests.connectors.conftest import Tracks
from tests.connectors.providers.ringcentral.server import (
    ACCOUNT_ID,
    CallRecord,
    FakeRingCentral,
    iso,
)


def telephony_event(
    session_id: str, status: str = "Disconnected", when: datetime | None = None
) -> dict:
    """A telephony-session notification as RingCentral sends it (shape of its published
    sample), for one party of `session_id`."""
    when = when or datetime.now(UTC)
    return {
        "uuid": f"40017733120{abs(hash((session_id, status))) % 10**8:08d}",
        "event": f"/restapi/v1.0/account/{ACCOUNT_ID}/telephony/sessions",
        "timestamp": iso(when),
        "subscriptionId": "0c9d4f21-8e3a-4b6f-a2d7-5f1e6c3b9a04",
        "ownerId": ACCOUNT_ID,
        "body": {
            "sequence": 7,
            "sessionId": "551208160016",
            "telephonySessionId": session_id,
            "serverId": "10.0.0.7.TAM",
            "eventTime": iso(when),
            "parties": [
                {
                    "accountId": ACCOUNT_ID,
                    "extensionId": "620114003008",
                    "id": f"p-{session_id}-2",
                    "direction": "Inbound",
                    "to": {
                        "phoneNumber": "+15550107700",
                        "name": "Dana Agent",
                        "extensionId": "620114003008",
                    },
                    "from": {"phoneNumber": "+15550123456"},
                    "status": {"code": status, "rcc": False},
                    "missedCall": False,
                    "standAlone": False,
                    "muted": False,
                }
            ],
            "origin": {"type": "Call"},
        },
    }


class RingCentralKit:
    type = "ringcentral"
    in_progress = False  # the call log holds only finished calls

    def __init__(self, tracks: Tracks):
        self.server = FakeRingCentral().start()
        self.tracks = tracks

    def credentials(self, good: bool = True) -> dict[str, str]:
        return {
            "client_id": self.server.client_id,
            "client_secret": self.server.client_secret if good else "wrong-password-123",
            "jwt": self.server.jwt,
        }

    def secret(self) -> str:
        return self.server.client_secret

    def at(self, minutes_ago: int) -> datetime:
        return datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes_ago)

    def record(self, n: int, minutes_ago: int, **kw) -> CallRecord:  # type: ignore[no-untyped-def]
        rec = CallRecord(
            id=f"Rc7Qm2LtX9v{n:05d}",
            session_id=f"551208{n:05d}",
            telephony_session_id=f"s-7f3e91c2b04d4a8e9c61d5a2{n:08d}",
            start=self.at(minutes_ago),
            audio=kw.pop("audio", self.tracks.mixed),
            **kw,
        )
        self.server.records.append(rec)
        return rec

    def add_call(self, n: int, minutes_ago: int, *, complete: bool = True) -> str:
        return self.record(n, minutes_ago).telephony_session_id

    def break_call(self, external_id: str) -> None:
        rec = next(r for r in self.server.records if r.telephony_session_id == external_id)
        self.server.fail_paths[self.server.content_path(rec)] = 503

    def mend(self) -> None:
        self.server.fail_paths.clear()
        self.server.down = False

    def delivery(
        self, external_id: str, *, url: str, secret: str, valid: bool = True
    ) -> WebhookRequest:
        token = secret if valid else secret[:-1] + ("x" if secret[-1:] != "x" else "y")
        return WebhookRequest(
            url=url,
            headers={"content-type": "application/json", "verification-token": token},
            body=json.dumps(telephony_event(external_id)).encode(),
            content_type="application/json",
        )


KIT = RingCentralKit

"""Aircall's Public API as a local server, from Aircall's docs: Basic auth (API ID and
API token; 401 `{"error": ..., "troubleshoot": ...}` otherwise), GET /v1/ping, GET
/v1/calls (`from`/`to` unix seconds, `order`, `per_page` up to 50, `page`, `meta` with
`next_page_link`, at most 10,000 items per query), GET /v1/calls/{id} (`{"call": ...}`),
the rate limit (429 with X-AircallApi-Limit/-Remaining/-Reset), and the call's
recording and voicemail as short-lived signed URLs on another host (an S3-like store
answering 403 "Request has expired" once they are stale: `expire_urls()`). The call
objects have the shape of the real events in ../shared/testdata/payloads/aircall/."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.connectors.fakes import FakeServer

PER_PAGE_MAX = 50
WINDOW_MAX = 10_000


@dataclass
class AircallCall:
    id: int
    started_at: int  # unix seconds
    direction: str = "inbound"
    answered_at: int | None = None
    ended_at: int | None = None
    status: str = "done"  # initial | answered | done
    user: dict[str, Any] | None = None
    raw_digits: str = "+44 330 818 6690"
    missed_call_reason: str | None = None
    recording: bytes | None = None
    voicemail: bytes | None = None
    contact: dict[str, Any] | None = None
    tags: list[dict[str, Any]] = field(default_factory=list)


class SignedStore(FakeServer):
    """Signed, expiring URLs (X-Amz-Date, X-Amz-Expires, X-Amz-Signature)."""

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, bytes] = {}
        self.generation = 0  # expire_urls() makes every URL signed before it stale
        self.key = secrets.token_bytes(16)

    def _sig(self, name: str, generation: int) -> str:
        return hashlib.sha256(self.key + f"{name}:{generation}".encode()).hexdigest()

    def url(self, name: str, data: bytes) -> str:
        self.files[name] = data
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        return (
            f"{self.origin}/recordings/{name}?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            f"&X-Amz-Date={stamp}&X-Amz-Expires=600&X-Amz-SignedHeaders=host"
            f"&X-Amz-Signature={self._sig(name, self.generation)}"
        )

    def handle(self, req: BaseHTTPRequestHandler, path: str, query: dict[str, list[str]]) -> None:
        name = path.rsplit("/", 1)[-1]
        data = self.files.get(name)
        if data is None:
            return self.send(req, 404, b"<Error><Code>NoSuchKey</Code></Error>", "application/xml")
        if query.get("X-Amz-Signature", [""])[0] != self._sig(name, self.generation):
            return self.send(
                req,
                403,
                b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
                "application/xml",
            )
        return self.send(req, 200, data, "audio/mpeg")


class FakeAircall(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.api_id = secrets.token_hex(16)
        self.api_token = secrets.token_hex(16)
        self.webhook_token = secrets.token_hex(16)
        self.calls: dict[int, AircallCall] = {}
        self.store = SignedStore().start()
        self.rate_limited = 0  # answer 429 to this many API requests

    @property
    def base_url(self) -> str:
        return self.origin

    def stop(self) -> None:
        # both at once: each waits up to its poll interval (0.5 s) to notice
        other = threading.Thread(target=self.store.stop)
        other.start()
        super().stop()
        other.join()

    def add(self, call: AircallCall) -> AircallCall:
        self.calls[call.id] = call
        return call

    def expire_urls(self) -> None:
        self.store.generation += 1

    def call_json(self, call: AircallCall) -> dict[str, Any]:
        rec = (
            self.store.url(f"call-{call.id}-recording.mp3", call.recording)
            if call.recording
            else None
        )
        vm = (
            self.store.url(f"call-{call.id}-voicemail.mp3", call.voicemail)
            if call.voicemail
            else None
        )
        duration = (call.ended_at or call.started_at) - call.started_at
        body: dict[str, Any] = {
            "id": call.id,
            "direct_link": f"{self.origin}/v1/calls/{call.id}",
            "direction": call.direction,
            "status": call.status,
            "missed_call_reason": call.missed_call_reason,
            "started_at": call.started_at,
            "answered_at": call.answered_at,
            "ended_at": call.ended_at,
            "duration": duration,
            "cost": "0.0",
            "hangup_cause": None,
            "voicemail": vm,
            "recording": rec,
            "asset": f"https://assets.aircall.io/calls/{call.id}/recording" if rec else None,
            "raw_digits": call.raw_digits,
            "number": {
                "id": 404821,
                "direct_link": f"{self.origin}/v1/numbers/404821",
                "name": "Support line",
                "digits": "+44 330 818 0000",
                "country": "GB",
                "time_zone": "Europe/London",
                "open": True,
                "availability_status": "open",
                "is_ivr": False,
                "live_recording_activated": False,
                "messages": {"welcome": "https://media-web.aircall.io/tracks/welcome.mp3"},
            },
            "archived": False,
            "teams": [],
            "comments": [],
            "tags": call.tags,
        }
        if call.user is not None:
            body["user"] = call.user
        if call.contact is not None:
            body["contact"] = call.contact
        return body

    def event(self, call: AircallCall, name: str = "call.ended") -> dict[str, Any]:
        return {
            "resource": "call",
            "event": name,
            "timestamp": call.ended_at or call.started_at,
            "token": self.webhook_token,
            "data": self.call_json(call),
        }

    def _error(self, req: BaseHTTPRequestHandler, status: int, error: str, hint: str) -> None:
        self.json(req, status, {"error": error, "troubleshoot": hint})

    def handle(self, req: BaseHTTPRequestHandler, path: str, query: dict[str, list[str]]) -> None:
        q = {k: v[0] for k, v in query.items()}
        expected = base64.b64encode(f"{self.api_id}:{self.api_token}".encode()).decode()
        if req.headers.get("Authorization") != f"Basic {expected}":
            return self._error(req, 401, "Unauthorized", "Check your API ID and API token")
        reset = str(int(time.time()) + 60)
        limits = {"X-AircallApi-Limit": "60", "X-AircallApi-Reset": reset}
        if self.rate_limited > 0:
            self.rate_limited -= 1
            return self.send(
                req,
                429,
                b'{"error": "Too Many Requests", "troubleshoot": "Wait for the reset"}',
                headers={**limits, "X-AircallApi-Remaining": "0"},
            )
        if path == "/v1/ping":
            return self.json(req, 200, {"ping": "pong"})
        if path == "/v1/company":
            return self.json(
                req, 200, {"company": {"name": "Acme", "users_count": 2, "numbers_count": 1}}
            )
        if path == "/v1/calls":
            return self._list(req, q)
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[:2] == ["v1", "calls"] and parts[2].isdigit():
            call = self.calls.get(int(parts[2]))
            if call is None:
                return self._error(req, 404, "Not found", "Check the call id")
            return self.json(req, 200, {"call": self.call_json(call)})
        return self._error(req, 404, "Not found", "Check the URL")

    def _list(self, req: BaseHTTPRequestHandler, q: dict[str, str]) -> None:
        per_page = int(q.get("per_page", 20))
        page = int(q.get("page", 1))
        if not 1 <= per_page <= PER_PAGE_MAX:
            return self._error(req, 400, "Bad Request", "per_page must be 1..50")
        if page * per_page > WINDOW_MAX:
            return self._error(req, 400, "Bad Request", "Use from/to to narrow the window")
        calls = sorted(self.calls.values(), key=lambda c: (c.started_at, c.id))
        if "from" in q:
            calls = [c for c in calls if c.started_at >= int(q["from"])]
        if "to" in q:
            calls = [c for c in calls if c.started_at <= int(q["to"])]
        if q.get("order") == "desc":
            calls.reverse()
        total = len(calls)
        chunk = calls[(page - 1) * per_page : page * per_page]
        rest = "".join(f"&{k}={v}" for k, v in q.items() if k in ("from", "to", "order"))
        link = f"{self.origin}/v1/calls?page={{}}&per_page={per_page}{rest}"
        self.json(
            req,
            200,
            {
                "meta": {
                    "count": len(chunk),
                    "total": total,
                    "current_page": page,
                    "per_page": per_page,
                    "next_page_link": link.format(page + 1) if page * per_page < total else None,
                    "previous_page_link": link.format(page - 1) if page > 1 else None,
                },
                "calls": [self.call_json(c) for c in chunk],
            },
        )

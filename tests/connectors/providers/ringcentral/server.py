"""RingCentral's platform as a real HTTP server on 127.0.0.1, from its public API
reference: the JWT bearer grant at /restapi/oauth/token (client id and secret as HTTP
Basic, `invalid_client` / `invalid_grant` errors), bearer tokens that expire (401
`TokenInvalid`), the company call log (newest first, `page`/`perPage`, absolute
`navigation.nextPage.uri`, filters `dateFrom`, `recordingType`, `telephonySessionId`),
recording content behind the bearer token, 429 with Retry-After."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlencode

from tests.connectors.fakes import FakeServer

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ACCOUNT_ID = "731500224"


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class CallRecord:
    id: str
    session_id: str
    telephony_session_id: str
    start: datetime
    audio: bytes | None
    direction: str = "Inbound"
    result: str = "Accepted"
    duration: int = 55
    customer: str = "+15550123456"
    extension_id: str = "620114003008"
    extension_name: str = "Dana Agent"
    extension_number: str = "102"

    @property
    def recording_id(self) -> str:
        return f"77231{self.id[-5:]}"


class FakeRingCentral(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.client_id = "rcCl" + secrets.token_hex(8)
        self.client_secret = "rcSe" + secrets.token_hex(16)
        self.jwt = "eyJ" + secrets.token_urlsafe(60)
        self.tokens: set[str] = set()
        self.records: list[CallRecord] = []
        self.rate_limit_next = 0  # answer this many API requests 429 (with Retry-After)
        self.retry_after = "1"
        self.token_requests = 0

    @property
    def base_url(self) -> str:
        return self.origin

    def expire_tokens(self) -> None:
        self.tokens.clear()

    # -- answers -------------------------------------------------------------------------

    def handle_post(
        self, req: BaseHTTPRequestHandler, path: str, query: dict[str, list[str]], body: bytes
    ) -> None:
        if path != "/restapi/oauth/token":
            return self.json(req, 404, {"errorCode": "CMN-102", "message": "Resource not found"})
        self.token_requests += 1
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if req.headers.get("Authorization") != f"Basic {expected}":
            return self.json(
                req,
                401,
                {"error": "invalid_client", "error_description": "Invalid client: rcCl..."},
            )
        from urllib.parse import parse_qs

        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if form.get("grant_type") != JWT_GRANT or form.get("assertion") != self.jwt:
            return self.json(
                req,
                400,
                {
                    "error": "invalid_grant",
                    "errors": [{"errorCode": "OAU-213", "message": "Token not found"}],
                    "error_description": "Token not found",
                },
            )
        token = "U0pDM" + secrets.token_urlsafe(40)
        self.tokens.add(token)
        self.json(
            req,
            200,
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": 3600,
                "refresh_token": "U0pDM" + secrets.token_urlsafe(40),
                "refresh_token_expires_in": 604800,
                "scope": "ReadCallLog ReadCallRecording CallControl",
                "owner_id": ACCOUNT_ID,
            },
        )

    def handle(self, req: BaseHTTPRequestHandler, path: str, query: dict[str, list[str]]) -> None:
        auth = req.headers.get("Authorization") or ""
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return self.json(
                req,
                401,
                {
                    "errorCode": "TokenInvalid",
                    "message": "Token not found",
                    "errors": [{"errorCode": "OAU-213", "message": "Token not found"}],
                },
            )
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            return self.send(
                req,
                429,
                b'{"errorCode":"CMN-301","message":"Request rate exceeded"}',
                headers={"Retry-After": self.retry_after, "X-Rate-Limit-Group": "heavy"},
            )
        q = {k: v[0] for k, v in query.items()}
        # "~" is the token's own account; its id names it too
        path = path.replace(f"/account/{ACCOUNT_ID}/call-log", "/account/~/call-log")
        if path in ("/restapi/v1.0/account/~", f"/restapi/v1.0/account/{ACCOUNT_ID}"):
            return self.json(
                req,
                200,
                {"id": ACCOUNT_ID, "mainNumber": "+15550100001", "status": "Confirmed"},
            )
        if path == "/restapi/v1.0/account/~/call-log":
            return self._call_log(req, q)
        prefix = f"/restapi/v1.0/account/{ACCOUNT_ID}/recording/"
        if path.startswith(prefix) and path.endswith("/content"):
            rid = path[len(prefix) :].split("/")[0]
            rec = next((r for r in self.records if r.recording_id == rid), None)
            if rec is None or rec.audio is None:
                return self.json(req, 404, {"errorCode": "CMN-102", "message": "Not found"})
            return self.send(req, 200, rec.audio, "audio/wav")
        self.json(req, 404, {"errorCode": "CMN-102", "message": "Resource not found"})

    def _call_log(self, req: BaseHTTPRequestHandler, q: dict[str, str]) -> None:
        per_page = int(q.get("perPage", 100))
        page = int(q.get("page", 1))
        if not 1 <= per_page <= 1000:
            return self.json(req, 400, {"errorCode": "CMN-101", "message": "perPage"})
        records = sorted(self.records, key=lambda r: r.start, reverse=True)  # newest first
        if q.get("dateFrom"):
            records = [r for r in records if r.start >= parse_iso(q["dateFrom"])]
        if q.get("dateTo"):
            records = [r for r in records if r.start <= parse_iso(q["dateTo"])]
        if q.get("recordingType") in ("All", "Automatic", "OnDemand"):
            records = [r for r in records if r.audio is not None]
        if q.get("telephonySessionId"):
            records = [r for r in records if r.telephony_session_id == q["telephonySessionId"]]
        if q.get("sessionId"):
            records = [r for r in records if r.session_id == q["sessionId"]]
        chunk = records[(page - 1) * per_page : page * per_page]
        detailed = q.get("view") == "Detailed"
        navigation: dict[str, Any] = {}
        base_q = {k: v for k, v in q.items() if k != "page"}
        if page * per_page < len(records):
            next_q = urlencode({**base_q, "page": page + 1})
            navigation["nextPage"] = {
                "uri": f"{self.origin}/restapi/v1.0/account/{ACCOUNT_ID}/call-log?{next_q}"
            }
        self.json(
            req,
            200,
            {
                "uri": f"{self.origin}/restapi/v1.0/account/{ACCOUNT_ID}/call-log",
                "records": [self._record(r, detailed) for r in chunk],
                "paging": {
                    "page": page,
                    "perPage": per_page,
                    "pageStart": (page - 1) * per_page,
                    "pageEnd": (page - 1) * per_page + max(len(chunk) - 1, 0),
                },
                "navigation": navigation,
            },
        )

    def _record(self, r: CallRecord, detailed: bool) -> dict[str, Any]:
        ext = {
            "phoneNumber": "+15550107700",
            "extensionNumber": r.extension_number,
            "extensionId": r.extension_id,
            "name": r.extension_name,
        }
        customer = {"phoneNumber": r.customer, "name": "SPRINGFIELD IL"}
        outbound = r.direction == "Outbound"
        api = f"{self.origin}/restapi/v1.0/account/{ACCOUNT_ID}"
        body: dict[str, Any] = {
            "uri": f"{api}/call-log/{r.id}",
            "id": r.id,
            "sessionId": r.session_id,
            "telephonySessionId": r.telephony_session_id,
            "startTime": iso(r.start),
            "duration": r.duration,
            "type": "Voice",
            "direction": r.direction,
            "action": "VoIP Call" if outbound else "Phone Call",
            "result": r.result,
            "from": ext if outbound else customer,
            "to": customer if outbound else ext,
            "extension": {
                "uri": f"{api}/extension/{r.extension_id}",
                "id": int(r.extension_id),
            },
        }
        if r.audio is not None:
            body["recording"] = {
                "uri": f"{api}/recording/{r.recording_id}",
                "id": r.recording_id,
                "type": "Automatic",
                "contentUri": f"{api}/recording/{r.recording_id}/content",
            }
        if detailed:
            body["legs"] = [
                {
                    "startTime": iso(r.start),
                    "duration": r.duration,
                    "type": "Voice",
                    "direction": r.direction,
                    "action": body["action"],
                    "result": r.result,
                    "from": body["from"],
                    "to": body["to"],
                    "extension": body["extension"],
                    "legType": "Accept",
                    "master": True,
                }
            ]
        return body

    def content_path(self, record: CallRecord) -> str:
        return f"/restapi/v1.0/account/{ACCOUNT_ID}/recording/{record.recording_id}/content"

"""Twilio's REST API (2010-04-01) as a local server, from Twilio's docs: Basic auth with
the Account SID and Auth Token (401 with a Basic challenge and Twilio's JSON error
otherwise), the Recordings list (newest first, `DateCreated>`/`DateCreated<` filters by
day or instant, `PageSize`, `Page` + `PageToken`, `next_page_uri`), one recording and one
call as JSON, and the recording media (.wav) that redirects (302) to a signed URL on
another host, as Twilio's media storage does. `rate_limited` answers 429 with
Retry-After to that many API requests."""

from __future__ import annotations

import base64
import io
import json
import secrets
import threading
import wave
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

import numpy as np

from tests.connectors.fakes import FakeServer

API = "/2010-04-01"


def stereo_wav(left: bytes, right: bytes) -> bytes:
    """Two mono 16-bit WAVs as one two-channel WAV (left = first channel)."""

    def samples(data: bytes) -> tuple[np.ndarray, int]:
        with wave.open(io.BytesIO(data)) as w:
            return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2"), w.getframerate()

    (a, rate), (b, _) = samples(left), samples(right)
    n = min(len(a), len(b))
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.stack([a[:n], b[:n]], axis=1).astype("<i2").tobytes())
    return out.getvalue()


def sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def rfc2822(value: datetime) -> str:
    return format_datetime(value.astimezone(UTC))


@dataclass
class TwilioCall:
    sid: str
    from_: str
    to: str
    direction: str  # inbound | outbound-api | outbound-dial
    start_time: datetime
    duration: int = 5
    parent_call_sid: str | None = None
    caller_name: str | None = None


@dataclass
class TwilioRecording:
    sid: str
    call_sid: str
    date_created: datetime
    audio: bytes
    channels: int = 2
    status: str = "completed"
    duration: int = 5
    source: str = "DialVerb"
    meta: dict[str, Any] = field(default_factory=dict)


class MediaStore(FakeServer):
    """The signed storage URL media redirects to (another origin than the API)."""

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, bytes] = {}

    def put(self, data: bytes) -> str:
        key = secrets.token_hex(8)
        self.files[key] = data
        return f"{self.origin}/media/{key}.wav?Expires=9999999999&Signature={secrets.token_hex(8)}"

    def handle(self, req: BaseHTTPRequestHandler, path: str, query: dict[str, list[str]]) -> None:
        key = path.rsplit("/", 1)[-1].removesuffix(".wav")
        data = self.files.get(key)
        if data is None:
            return self.send(req, 404, b"<Error><Code>NoSuchKey</Code></Error>", "application/xml")
        return self.send(req, 200, data, "audio/x-wav")


class FakeTwilio(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.account_sid = sid("AC")
        self.auth_token = secrets.token_hex(16)
        self.calls: dict[str, TwilioCall] = {}
        self.recordings: dict[str, TwilioRecording] = {}
        self.media = MediaStore().start()
        self.media_auth = True  # HTTP auth on media URLs (an account setting at Twilio)
        self.rate_limited = 0  # answer 429 to this many API requests

    @property
    def base_url(self) -> str:
        return self.origin

    def stop(self) -> None:
        # both at once: each waits up to its poll interval (0.5 s) to notice
        other = threading.Thread(target=self.media.stop)
        other.start()
        super().stop()
        other.join()

    def add(self, call: TwilioCall, recording: TwilioRecording) -> TwilioRecording:
        self.calls[call.sid] = call
        self.recordings[recording.sid] = recording
        return recording

    # -- answers ---------------------------------------------------------------------------

    def _authorised(self, req: BaseHTTPRequestHandler) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return req.headers.get("Authorization") == f"Basic {expected}"

    def _error(self, req: BaseHTTPRequestHandler, status: int, code: int, message: str) -> None:
        body = {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
        headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if status == 401 else None
        self.send(req, status, json.dumps(body).encode(), headers=headers)

    def handle(self, req: BaseHTTPRequestHandler, path: str, query: dict[str, list[str]]) -> None:
        q = {k: v[0] for k, v in query.items()}
        prefix = f"{API}/Accounts/{self.account_sid}"
        if not path.startswith(f"{API}/Accounts/"):
            return self._error(req, 404, 20404, "The requested resource was not found")
        if self.rate_limited > 0:
            self.rate_limited -= 1
            return self.send(
                req,
                429,
                b'{"code": 20429, "message": "Too Many Requests", "status": 429}',
                headers={"Retry-After": "0"},
            )
        is_media = path.endswith((".wav", ".mp3")) and "/Recordings/" in path
        if not (is_media and not self.media_auth) and not self._authorised(req):
            return self._error(req, 401, 20003, "Authenticate")
        if not path.startswith(prefix):
            return self._error(req, 401, 20003, "Authenticate")
        rest = path[len(prefix) :]
        if rest == ".json":
            return self.json(
                req,
                200,
                {
                    "sid": self.account_sid,
                    "friendly_name": "Acme Support",
                    "status": "active",
                    "type": "Full",
                    "date_created": rfc2822(datetime(2020, 1, 1, tzinfo=UTC)),
                },
            )
        if rest == "/Recordings.json":
            return self._list(req, q)
        parts = rest.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "Recordings":
            name, _, ext = parts[1].partition(".")
            rec = self.recordings.get(name)
            if rec is None:
                return self._error(req, 404, 20404, "The requested resource was not found")
            if ext == "json":
                return self.json(req, 200, self._recording(rec))
            if ext in ("wav", "mp3"):
                return self.redirect(req, self.media.put(rec.audio))
        if len(parts) == 2 and parts[0] == "Calls" and parts[1].endswith(".json"):
            call = self.calls.get(parts[1].removesuffix(".json"))
            if call is None:
                return self._error(req, 404, 20404, "The requested resource was not found")
            return self.json(req, 200, self._call(call))
        return self._error(req, 404, 20404, "The requested resource was not found")

    def _recording(self, rec: TwilioRecording) -> dict[str, Any]:
        uri = f"{API}/Accounts/{self.account_sid}/Recordings/{rec.sid}"
        return {
            "sid": rec.sid,
            "account_sid": self.account_sid,
            "call_sid": rec.call_sid,
            "conference_sid": None,
            "date_created": rfc2822(rec.date_created),
            "date_updated": rfc2822(rec.date_created),
            "start_time": rfc2822(rec.date_created),
            "duration": str(rec.duration) if rec.status == "completed" else "-1",
            "channels": rec.channels,
            "source": rec.source,
            "status": rec.status,
            "price": None,
            "price_unit": "USD",
            "error_code": None,
            "track": "both",
            "uri": f"{uri}.json",
            "media_url": f"{self.origin}{uri}",
            "encryption_details": None,
            "subresource_uris": {"transcriptions": f"{uri}/Transcriptions.json"},
            "api_version": "2010-04-01",
        }

    def _call(self, call: TwilioCall) -> dict[str, Any]:
        return {
            "sid": call.sid,
            "account_sid": self.account_sid,
            "parent_call_sid": call.parent_call_sid,
            "from": call.from_,
            "to": call.to,
            "from_formatted": call.from_,
            "to_formatted": call.to,
            "direction": call.direction,
            "status": "completed",
            "start_time": rfc2822(call.start_time),
            "end_time": rfc2822(call.start_time),
            "duration": str(call.duration),
            "caller_name": call.caller_name,
            "answered_by": None,
            "uri": f"{API}/Accounts/{self.account_sid}/Calls/{call.sid}.json",
        }

    @staticmethod
    def _bound(value: str) -> datetime:
        if len(value) == 10:  # YYYY-MM-DD: midnight GMT
            return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    def _list(self, req: BaseHTTPRequestHandler, q: dict[str, str]) -> None:
        size = int(q.get("PageSize", 50))
        page = int(q.get("Page", 0))
        if not 1 <= size <= 1000:
            return self._error(req, 400, 20001, "PageSize must be between 1 and 1000")
        # newest first, as Twilio lists them
        recs = sorted(self.recordings.values(), key=lambda r: (r.date_created, r.sid), reverse=True)
        if "DateCreated>" in q:
            after = self._bound(q["DateCreated>"])
            recs = [r for r in recs if r.date_created >= after]
        if "DateCreated<" in q:
            before = self._bound(q["DateCreated<"])
            recs = [r for r in recs if r.date_created <= before]
        token = q.get("PageToken")
        start = 0
        if token:  # PA + the sid of the last item of the previous page
            last = token[2:]
            start = next((i + 1 for i, r in enumerate(recs) if r.sid == last), len(recs))
        chunk = recs[start : start + size]
        base = f"{API}/Accounts/{self.account_sid}/Recordings.json"
        filters = "".join(
            f"&{k.replace('>', '%3E').replace('<', '%3C')}={v}"
            for k, v in q.items()
            if k.startswith("DateCreated")
        )
        next_uri = None
        if start + size < len(recs):
            token = f"PA{chunk[-1].sid}"
            next_uri = f"{base}?PageSize={size}&Page={page + 1}&PageToken={token}{filters}"
        self.json(
            req,
            200,
            {
                "recordings": [self._recording(r) for r in chunk],
                "page": page,
                "page_size": size,
                "start": start,
                "end": start + len(chunk) - 1,
                "uri": f"{base}?PageSize={size}&Page={page}{filters}",
                "first_page_uri": f"{base}?PageSize={size}&Page=0{filters}",
                "previous_page_uri": None,
                "next_page_uri": next_uri,
            },
        )

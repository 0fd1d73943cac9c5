"""Twilio Programmable Voice: call recordings. Polled through the Recordings list API
(newest first at Twilio; read for the whole window and handed over oldest first), and in
real time through the RecordingStatusCallback, a form-encoded POST signed with
X-Twilio-Signature (HMAC-SHA1 of the URL and the sorted parameters, keyed with the
account's Auth Token).

One engagement per recording (its RecordingSid); the call it belongs to (GET
Calls/{CallSid}.json) gives the direction, the customer's number and the agent. A
dual-channel recording is downloaded as one two-channel WAV with the channel roles set:
Twilio puts the parent call leg on the first channel and the dialled (child) leg on the
second, so which side is the agent follows from the parent call (see
docs/connectors/twilio.md)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Generator, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import httpx

from callscribe.connectors.base import (
    AgentInfo,
    CallPage,
    CallRef,
    CredentialField,
    FetchedCall,
    ProviderAuthError,
    ProviderError,
    ProviderHTTP,
    Recording,
    WebhookDelivery,
    WebhookRequest,
    origin,
)
from callscribe.errors import BadRequest, ErrorCode, Unauthorized
from callscribe.kit.schemas import parse_instant
from callscribe.security.crypto import constant_time_equals

API = "/2010-04-01"
PAGE_SIZE = 100  # Twilio allows up to 1000; 100 keeps one answer small
INITIAL_LOOKBACK = timedelta(days=30)  # the first sync imports the last 30 days
MAX_RECORDINGS_PER_SYNC = 20_000  # one window read whole (Twilio lists newest first)
SIGNATURE_HEADER = "x-twilio-signature"
# a recording still being made or processed: imported by a later sync or callback
PENDING_STATUSES = frozenset({"in-progress", "paused", "stopped", "processing"})
SOFTPHONE = ("client:", "sip:")  # an identity of ours (Voice SDK, SIP), not a phone number

_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
_RECORDING_SID = re.compile(r"^RE[0-9a-fA-F]{32}$")
_CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")

WEBHOOK_INSTRUCTIONS = (
    "Twilio sends a recording's status to the RecordingStatusCallback you give where the "
    'recording is started: <Dial record="record-from-answer-dual" '
    'recordingStatusCallback="…">, <Start><Recording channels="dual" '
    'recordingStatusCallback="…">, or the RecordingStatusCallback parameter of the Calls '
    "or Recordings REST API. Use the endpoint URL below exactly as shown (method POST, "
    "event 'completed'). Twilio signs each callback with the X-Twilio-Signature header "
    "using this account's Auth Token, so there is nothing else to paste; record dual "
    "channel to keep the agent and the customer apart."
)


def compute_signature(auth_token: str, url: str, params: list[tuple[str, str]]) -> str:
    """X-Twilio-Signature: base64 of HMAC-SHA1(auth token, the full URL followed by
    each POST parameter's name and value, sorted by name)."""
    data = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def url_variants(url: str) -> list[str]:
    """The URL as given, and with its default port added or removed: Twilio's own
    validators accept either, since a proxy may add or drop it."""
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    if parts.port is not None and parts.port == default:
        other = host
    elif parts.port is None and default is not None:
        other = f"{host}:{default}"
    else:
        return [url]
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{other}" if userinfo else other
    return [url, urlunsplit(parts._replace(netloc=netloc))]


def parse_time(value: Any) -> datetime | None:
    """Twilio's dates are RFC 2822 ("Wed, 20 Apr 2022 23:45:25 +0000"); ISO also read."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        try:
            return parse_instant(value)
        except ValueError:
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


class _TwilioOriginAuth(httpx.Auth):
    """Basic auth on requests to Twilio's own API origin only: the media URL redirects
    to a signed storage URL, which never sees the Auth Token."""

    def __init__(self, username: str, password: str, allowed_origin: str):
        self._basic = httpx.BasicAuth(username, password)
        self._origin = origin(allowed_origin)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if origin(str(request.url)) == self._origin:
            yield from self._basic.auth_flow(request)
        else:
            yield request


class TwilioConnector:
    type: ClassVar[str] = "twilio"
    label: ClassVar[str] = "Twilio"
    default_base_url: ClassVar[str] = "https://api.twilio.com"
    base_url_help: ClassVar[str] = (
        "Twilio's REST API; keep it unless your account lives in another region "
        "(e.g. https://api.dublin.ie1.twilio.com)."
    )
    credential_fields: ClassVar[tuple[CredentialField, ...]] = (
        CredentialField(
            "account_sid",
            "Account SID",
            secret=False,
            placeholder="AC…",
            help="Twilio Console → Account → API keys & tokens. Starts with AC.",
        ),
        CredentialField(
            "auth_token",
            "Auth Token",
            placeholder="32 characters",
            help="The primary Auth Token next to the Account SID. It also verifies the "
            "recording callbacks.",
        ),
    )
    supports_webhook: ClassVar[bool] = True
    webhook_header: ClassVar[str] = ""  # X-Twilio-Signature: Twilio sets it itself
    webhook_payload_template: ClassVar[str] = ""
    webhook_uses_secret: ClassVar[bool] = False  # signed with the Auth Token
    webhook_instructions: ClassVar[str] = WEBHOOK_INSTRUCTIONS

    def __init__(self, base_url: str, credentials: dict[str, str]) -> None:
        self.account_sid = (credentials.get("account_sid") or "").strip()
        self.auth_token = (credentials.get("auth_token") or "").strip()
        self.http = ProviderHTTP("Twilio", base_url, [self.auth_token])

    def redact(self, text: str) -> str:
        return self.http.redact(text)

    # -- requests ------------------------------------------------------------------------

    def _check_credentials(self) -> None:
        if not self.account_sid or not self.auth_token:
            raise ProviderAuthError("Enter the Twilio Account SID and Auth Token.", transient=False)
        if not _ACCOUNT_SID.match(self.account_sid):
            raise ProviderAuthError(
                "The Account SID is AC followed by 32 hexadecimal characters; copy it from "
                "the Twilio Console (Account → API keys & tokens).",
                transient=False,
            )

    def _account_path(self, rest: str = "") -> str:
        return f"{API}/Accounts/{self.account_sid}{rest}"

    def _json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        self._check_credentials()
        response = self.http.get(path, params=params, auth=(self.account_sid, self.auth_token))
        if response.status_code == 401:
            raise ProviderAuthError(
                "Twilio refused the Account SID and Auth Token (HTTP 401): one of them is "
                "wrong, or the token was rotated. Copy both from the Twilio Console "
                "(Account → API keys & tokens) and enter them here.",
                transient=False,
            )
        if response.status_code == 403:
            raise ProviderError(
                f"Twilio does not let this account read {self._what(path)} (HTTP 403).",
                code=ErrorCode.PROVIDER_PERMISSION_DENIED,
                transient=False,
            )
        if response.status_code == 404:
            raise ProviderError(
                f"Twilio has no {self._what(path)} here (HTTP 404).",
                code=ErrorCode.PROVIDER_NOT_FOUND,
                transient=False,
            )
        if response.status_code >= 400:
            self.http.refused(response)
        return self.http.json_of(
            response, hint="check that the Base URL is Twilio's REST API (https://api.twilio.com)."
        )

    @staticmethod
    def _what(path: str) -> str:
        if "/Recordings" in path:
            return "such recording"
        if "/Calls/" in path:
            return "such call"
        return "such account"

    # -- the Protocol --------------------------------------------------------------------

    def test_connection(self) -> str:
        account = self._json(self._account_path(".json"))
        if not isinstance(account, dict):
            raise ProviderError(
                "Twilio's account details came back in an unexpected shape.",
                code=ErrorCode.PROVIDER_BAD_ANSWER,
            )
        name = str(account.get("friendly_name") or self.account_sid)[:100]
        status = account.get("status") or "active"
        return f"Connected to Twilio: the Account SID and Auth Token work ({name}, {status})."

    def cursor_for(self, last_seen: datetime) -> dict[str, Any]:
        return {"since": iso(last_seen)}

    def list_calls(self, cursor: dict[str, Any] | None) -> Iterator[CallPage]:
        since = parse_time((cursor or {}).get("since")) or datetime.now(UTC) - INITIAL_LOOKBACK
        # DateCreated>= filters by day (GMT); the exact instant is applied here
        path: str | None = self._account_path("/Recordings.json")
        params: dict[str, Any] | None = {
            "DateCreated>": since.astimezone(UTC).strftime("%Y-%m-%d"),
            "PageSize": PAGE_SIZE,
        }
        refs: dict[str, CallRef] = {}
        while path is not None:
            body = self._json(path, params)
            recordings = body.get("recordings") if isinstance(body, dict) else None
            if not isinstance(recordings, list):
                raise ProviderError(
                    "Twilio's list of recordings came back in an unexpected shape.",
                    code=ErrorCode.PROVIDER_BAD_ANSWER,
                )
            for item in recordings:
                ref = self._listed(item)
                if ref is not None and ref.created_at is not None and ref.created_at >= since:
                    refs.setdefault(ref.external_id, ref)
            if len(refs) >= MAX_RECORDINGS_PER_SYNC:
                raise ProviderError(
                    f"More than {MAX_RECORDINGS_PER_SYNC} recordings since {iso(since)}: "
                    "too many for one sync.",
                    transient=False,
                )
            next_uri = body.get("next_page_uri")
            # next_page_uri is a path on the API with its own query (Page, PageToken)
            path = next_uri if isinstance(next_uri, str) and next_uri.startswith("/") else None
            params = None
        ordered = sorted(refs.values(), key=lambda r: (r.created_at, r.external_id))
        for start in range(0, len(ordered), PAGE_SIZE):
            yield CallPage(ordered[start : start + PAGE_SIZE])

    @staticmethod
    def _listed(item: Any) -> CallRef | None:
        if not isinstance(item, dict) or not _RECORDING_SID.match(str(item.get("sid") or "")):
            return None
        data = {
            "sid": item["sid"],
            "call_sid": item.get("call_sid"),
            "channels": _int(item.get("channels")),
            "status": item.get("status"),
            "source": item.get("source"),
            "track": item.get("track"),
            "start_time": item.get("start_time"),
            "date_created": item.get("date_created"),
            "duration": _int(item.get("duration")),
            "conference_sid": item.get("conference_sid"),
        }
        created = parse_time(item.get("date_created")) or parse_time(item.get("start_time"))
        return CallRef(str(item["sid"]), created, data)

    def _recording(self, ref: CallRef) -> dict[str, Any]:
        if ref.data.get("sid") == ref.external_id:
            return ref.data
        if not _RECORDING_SID.match(ref.external_id):
            raise ProviderError(
                f"{ref.external_id[:40]!r} is not a Twilio recording SID.",
                code=ErrorCode.PROVIDER_CALL_NOT_FOUND,
                transient=False,
            )
        listed = self._listed(self._json(self._account_path(f"/Recordings/{ref.external_id}.json")))
        if listed is None:
            raise ProviderError(
                "Twilio's recording came back in an unexpected shape.",
                code=ErrorCode.PROVIDER_BAD_ANSWER,
            )
        return listed.data

    def fetch_call(self, ref: CallRef) -> FetchedCall:
        rec = self._recording(ref)
        sid = str(rec["sid"])
        status = str(rec.get("status") or "completed")
        if status in PENDING_STATUSES:
            return FetchedCall(external_id=sid, complete=False)
        if status != "completed":
            raise ProviderError(
                f"Twilio recording {sid} has no audio to import (status {status}).",
                transient=False,
            )
        call_sid = str(rec.get("call_sid") or "")
        call: dict[str, Any] = {}
        if _CALL_SID.match(call_sid):
            body = self._json(self._account_path(f"/Calls/{call_sid}.json"))
            call = body if isinstance(body, dict) else {}
        channels = rec.get("channels") or 1
        first, second, agent_first = self._sides(call)
        direction = self._direction(call, agent_first)
        customer = second if agent_first else first
        agent_side = first if agent_first else second
        media = f"{self.http.base_url}{self._account_path(f'/Recordings/{sid}.wav')}"
        if channels == 2:
            media += "?RequestedChannels=2"  # conference recordings download mono otherwise
        meta: dict[str, Any] = {
            "provider": {
                "recording_sid": sid,
                "call_sid": call_sid or None,
                "parent_call_sid": call.get("parent_call_sid"),
                "twilio_direction": call.get("direction"),
                "source": rec.get("source"),
                "channels": channels,
                "conference_sid": rec.get("conference_sid"),
            }
        }
        if channels == 2:
            # Twilio: first channel = the parent call leg, second = the dialled leg
            meta["channel_roles"] = (
                {"0": "agent", "1": "customer"} if agent_first else {"0": "customer", "1": "agent"}
            )
        duration = rec.get("duration") or _int(call.get("duration"))
        return FetchedCall(
            external_id=sid,
            direction=direction,
            agent=self._agent(agent_side) if agent_side else None,
            customer_phone=customer[:40]
            if customer and not customer.startswith(SOFTPHONE)
            else None,
            customer_name=(call.get("caller_name") or None) if direction == "inbound" else None,
            started_at=parse_time(rec.get("start_time")) or parse_time(call.get("start_time")),
            duration_s=float(duration) if duration else None,
            recordings=[
                Recording(
                    "mixed",
                    media,
                    auth=_TwilioOriginAuth(self.account_sid, self.auth_token, self.http.base_url),
                )
            ],
            meta=meta,
        )

    @staticmethod
    def _sides(call: dict[str, Any]) -> tuple[str, str, bool]:
        """(the parent leg's far party, the other side, whether the first is our agent).
        On an inbound call the parent leg is the caller; on a call Twilio placed
        (outbound-api, outbound-dial) it is the number called."""
        frm, to = str(call.get("from") or ""), str(call.get("to") or "")
        inbound = call.get("direction") == "inbound"
        first, second = (frm, to) if inbound else (to, frm)
        return first, second, first.startswith(SOFTPHONE)

    @staticmethod
    def _direction(call: dict[str, Any], agent_first: bool) -> str | None:
        twilio = call.get("direction")
        if not twilio:
            return None
        if twilio == "inbound":
            # a softphone calling in to Twilio is our agent calling a customer out
            return "outbound" if agent_first else "inbound"
        return "outbound"

    @staticmethod
    def _agent(side: str) -> AgentInfo:
        if side.startswith(SOFTPHONE):
            identity = side.split(":", 1)[1] or side
            return AgentInfo(external_id=side[:200], name=identity[:200])
        # a call on a phone number: the Twilio number (the line) stands for the agent
        return AgentInfo(external_id=side[:200], name=f"Twilio line {side}"[:200], phone=side[:40])

    # -- the webhook ---------------------------------------------------------------------

    def verify_webhook(self, request: WebhookRequest, secret: str) -> WebhookDelivery:
        signature = request.headers.get(SIGNATURE_HEADER, "").strip()
        if not signature:
            raise Unauthorized(
                "The X-Twilio-Signature header is missing: only Twilio's own callbacks are "
                "accepted here."
            )
        try:
            pairs = parse_qsl(request.body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            pairs = []
        if not self.auth_token or not any(
            constant_time_equals(signature, compute_signature(self.auth_token, url, pairs))
            for url in url_variants(request.url)
        ):
            raise Unauthorized(
                "The X-Twilio-Signature does not match: check that the callback URL in Twilio "
                "is exactly this connector's endpoint URL and that the Auth Token here is the "
                "account's primary one."
            )
        params = dict(pairs)
        sid = params.get("RecordingSid", "")
        if not sid:
            return WebhookDelivery(ignored="Not a recording status callback (no RecordingSid).")
        status = params.get("RecordingStatus", "")
        if status != "completed":
            return WebhookDelivery(
                ignored=f"Recording status {status[:40]!r}: only completed recordings are imported."
            )
        if not _RECORDING_SID.match(sid):
            raise BadRequest("RecordingSid is not a Twilio recording SID.", code="malformed_body")
        created = parse_time(params.get("RecordingStartTime"))
        data = {
            "sid": sid,
            "call_sid": params.get("CallSid"),
            "channels": _int(params.get("RecordingChannels")),
            "status": status,
            "source": params.get("RecordingSource"),
            "track": params.get("RecordingTrack"),
            "start_time": params.get("RecordingStartTime"),
            "date_created": params.get("RecordingStartTime"),
            "duration": _int(params.get("RecordingDuration")),
            "conference_sid": params.get("ConferenceSid"),
        }
        return WebhookDelivery(refs=[CallRef(sid, created, data)])

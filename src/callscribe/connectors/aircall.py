"""Aircall: calls from the Public API (Basic auth with an API ID and token). Polled
through GET /v1/calls (`from` = unix seconds, `order=asc`, `meta.next_page_link`), and in
real time through Aircall's webhooks, verified by the `token` field Aircall puts in every
payload (compared in constant time with the token Aircall showed for the webhook).

A call is imported once it is `done`: answered calls with their recording, voicemails
with the voicemail audio (outcome "voicemail"), missed calls without audio (outcome
"missed", no_media). Recording and voicemail URLs are signed and short-lived: they are
downloaded at once, and when the store refuses one as expired the call is read again
(GET /v1/calls/{id}) for a fresh URL, once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

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
from callscribe.security.crypto import constant_time_equals

PER_PAGE = 50  # Aircall's maximum
MAX_PAGE = 200  # Aircall serves at most 10,000 items of one query (page * per_page)
INITIAL_LOOKBACK = timedelta(days=30)  # the first sync imports the last 30 days
# an answered call whose recording is not there yet: Aircall adds it shortly after the
# call ends (call.comm_assets_generated); after this long it is imported without one
RECORDING_GRACE = timedelta(minutes=15)
# the events that carry a finished call; every other event is acknowledged and ignored
IMPORT_EVENTS = frozenset({"call.ended", "call.voicemail_left", "call.comm_assets_generated"})
ATTRIBUTE_MAX = 100  # engagement attributes are at most 100 characters

_CALL_ID = re.compile(r"^\d{1,19}$")

WEBHOOK_INSTRUCTIONS = (
    "In the Aircall Dashboard: Integrations & API → Webhooks → Add a new webhook (or "
    "POST /v1/webhooks). Paste the endpoint URL below and pick at least the events "
    "call.ended, call.voicemail_left and call.comm_assets_generated (others are "
    "acknowledged and ignored). Aircall then shows the webhook's token: enter it as this "
    "connector's Webhook token (Edit → New credentials). Aircall sends it in the body of "
    "every event; deliveries without the right token are refused."
)


def from_unix(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def phone_of(raw: Any) -> str | None:
    """raw_digits as Aircall writes them ("+44 330 818 6690"); "anonymous" is none."""
    if not isinstance(raw, str):
        return None
    digits = re.sub(r"[^\d+]", "", raw)
    return digits[:40] if sum(c.isdigit() for c in digits) >= 3 else None


def _seconds(later: Any, earlier: Any) -> float | None:
    a, b = from_unix(later), from_unix(earlier)
    return max(0.0, (a - b).total_seconds()) if a and b else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _short(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text[:ATTRIBUTE_MAX] or None


class AircallConnector:
    type: ClassVar[str] = "aircall"
    label: ClassVar[str] = "Aircall"
    default_base_url: ClassVar[str] = "https://api.aircall.io"
    base_url_help: ClassVar[str] = "Aircall's Public API; keep it as it is."
    credential_fields: ClassVar[tuple[CredentialField, ...]] = (
        CredentialField(
            "api_id",
            "API ID",
            secret=False,
            help="Aircall Dashboard → Integrations & API → API Keys → Add a new API key.",
        ),
        CredentialField(
            "api_token",
            "API token",
            help="Shown once, next to the API ID, when the key is made.",
        ),
        CredentialField(
            "webhook_token",
            "Webhook token",
            required=False,
            help="Optional at first: add the webhook in Aircall with this connector's "
            "endpoint URL, then enter the token Aircall shows for it.",
        ),
    )
    supports_webhook: ClassVar[bool] = True
    webhook_header: ClassVar[str] = ""  # the token travels in the body
    webhook_payload_template: ClassVar[str] = ""
    webhook_uses_secret: ClassVar[bool] = False  # Aircall's own token, not ours
    webhook_instructions: ClassVar[str] = WEBHOOK_INSTRUCTIONS

    def __init__(self, base_url: str, credentials: dict[str, str]) -> None:
        self.api_id = (credentials.get("api_id") or "").strip()
        self.api_token = (credentials.get("api_token") or "").strip()
        self.webhook_token = (credentials.get("webhook_token") or "").strip()
        self.http = ProviderHTTP("Aircall", base_url, [self.api_token, self.webhook_token])

    def redact(self, text: str) -> str:
        return self.http.redact(text)

    # -- requests ------------------------------------------------------------------------

    def _json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        if not self.api_id or not self.api_token:
            raise ProviderAuthError("Enter the Aircall API ID and API token.", transient=False)
        response = self.http.get(path, params=params, auth=(self.api_id, self.api_token))
        if response.status_code in (401, 403):
            raise ProviderAuthError(
                f"Aircall refused the API ID and API token (HTTP {response.status_code}): "
                "the key is wrong or was deleted. Make an API key in the Aircall Dashboard "
                "(Integrations & API → API Keys) and enter its ID and token here.",
                transient=False,
            )
        if response.status_code == 404:
            raise ProviderError(
                "Aircall has no such call (HTTP 404)."
                if "/calls/" in path
                else "Nothing answers as Aircall's API here (HTTP 404): check the Base URL.",
                code=ErrorCode.PROVIDER_CALL_NOT_FOUND
                if "/calls/" in path
                else ErrorCode.PROVIDER_NOT_FOUND,
                transient=False,
            )
        if response.status_code >= 400:
            self.http.refused(response)
        return self.http.json_of(
            response, hint="check that the Base URL is https://api.aircall.io."
        )

    def _page_path(self, link: Any) -> str | None:
        """meta.next_page_link, followed only on Aircall's own API origin (it carries
        the credentials)."""
        if not isinstance(link, str) or not link:
            return None
        if link.startswith("/"):
            return link
        if origin(link) == origin(self.http.base_url):
            return link
        return None

    def _call(self, call_id: str) -> dict[str, Any]:
        if not _CALL_ID.match(call_id):
            raise ProviderError(
                f"{call_id[:40]!r} is not an Aircall call id.",
                code=ErrorCode.PROVIDER_CALL_NOT_FOUND,
                transient=False,
            )
        body = self._json(f"/v1/calls/{call_id}")
        call = body.get("call") if isinstance(body, dict) else None
        if not isinstance(call, dict):
            raise ProviderError(
                "Aircall's call came back in an unexpected shape.",
                code=ErrorCode.PROVIDER_BAD_ANSWER,
            )
        return call

    # -- the Protocol --------------------------------------------------------------------

    def test_connection(self) -> str:
        body = self._json("/v1/ping")
        if not isinstance(body, dict) or "ping" not in body:
            raise ProviderError(
                "Aircall's ping came back in an unexpected shape: check the Base URL.",
                code=ErrorCode.PROVIDER_BAD_ANSWER,
            )
        hint = "" if self.webhook_token else " No webhook token yet: calls come in by sync."
        return f"Connected to Aircall: the API ID and API token work.{hint}"

    def cursor_for(self, last_seen: datetime) -> dict[str, Any]:
        return {"from": int(last_seen.timestamp())}

    def list_calls(self, cursor: dict[str, Any] | None) -> Iterator[CallPage]:
        start = (cursor or {}).get("from")
        if isinstance(start, bool) or not isinstance(start, int):
            start = int((datetime.now(UTC) - INITIAL_LOOKBACK).timestamp())
        seen: set[str] = set()
        path: str | None = "/v1/calls"
        params: dict[str, Any] | None = self._list_params(start)
        page = 1
        while path is not None:
            body = self._json(path, params)
            calls = body.get("calls") if isinstance(body, dict) else None
            meta = body.get("meta") if isinstance(body, dict) else None
            if not isinstance(calls, list):
                raise ProviderError(
                    "Aircall's list of calls came back in an unexpected shape.",
                    code=ErrorCode.PROVIDER_BAD_ANSWER,
                )
            refs = []
            for call in calls:
                ref = self._ref(call)
                if ref is not None and ref.external_id not in seen:
                    seen.add(ref.external_id)
                    refs.append(ref)
            yield CallPage(refs)
            path = self._page_path((meta or {}).get("next_page_link"))
            params, page = None, page + 1
            if path is not None and page > MAX_PAGE:
                # past Aircall's 10,000-item window: the same query again from the last
                # call seen (the seen set drops the overlap)
                last = max((int(r.created_at.timestamp()) for r in refs if r.created_at), default=0)
                if last <= start:
                    raise ProviderError(
                        "Aircall has more calls in one second than one listing can page "
                        "through (10,000).",
                        transient=False,
                    )
                start = last
                path, params, page = "/v1/calls", self._list_params(last), 1

    @staticmethod
    def _list_params(start: int) -> dict[str, Any]:
        return {"from": start, "order": "asc", "per_page": PER_PAGE, "page": 1}

    @staticmethod
    def _ref(call: Any) -> CallRef | None:
        if not isinstance(call, dict) or not _CALL_ID.match(str(call.get("id", ""))):
            return None
        data = dict(call)
        number = data.get("number")
        if isinstance(number, dict):  # its greeting messages are noise in the event row
            data["number"] = {k: v for k, v in number.items() if k != "messages"}
        return CallRef(str(call["id"]), from_unix(call.get("started_at")), data)

    def fetch_call(self, ref: CallRef) -> FetchedCall:
        call = ref.data if str(ref.data.get("id", "")) == ref.external_id else {}
        if not call:
            call = self._call(ref.external_id)
        if call.get("status") != "done":
            return FetchedCall(external_id=ref.external_id, complete=False)
        answered = from_unix(call.get("answered_at")) is not None
        if answered and not (call.get("recording") or call.get("voicemail")):
            ended = from_unix(call.get("ended_at")) or from_unix(call.get("started_at"))
            if ended is not None and datetime.now(UTC) - ended < RECORDING_GRACE:
                call = self._call(ref.external_id)  # the recording may have come since
                if not (call.get("recording") or call.get("voicemail")):
                    return FetchedCall(external_id=ref.external_id, complete=False)
        return self._fetched(ref.external_id, call)

    def _fetched(self, call_id: str, call: dict[str, Any]) -> FetchedCall:
        answered = from_unix(call.get("answered_at")) is not None
        inbound = call.get("direction") == "inbound"
        recording, voicemail = call.get("recording"), call.get("voicemail")
        recordings: list[Recording] = []
        if isinstance(recording, str) and recording.startswith("http") and answered:
            recordings.append(self._signed(call_id, "recording", recording))
            outcome = "answered"
        elif isinstance(voicemail, str) and voicemail.startswith("http"):
            recordings.append(self._signed(call_id, "voicemail", voicemail))
            outcome = "voicemail"
        elif answered:
            outcome = "answered"  # recording off for this number or user
        else:
            outcome = "missed" if inbound else "no_answer"
        user = _dict(call.get("user"))
        agent = (
            AgentInfo(
                external_id=str(user.get("id") or ""),
                name=str(user.get("name") or user.get("email") or f"Aircall user {user['id']}"),
                email=(user.get("email") or None),
            )
            if user.get("id") is not None
            else None
        )
        contact = _dict(call.get("contact"))
        name = " ".join(
            str(contact[k]) for k in ("first_name", "last_name") if contact.get(k)
        ).strip()
        emails = contact.get("emails") or []
        email = next(
            (e.get("value") for e in emails if isinstance(e, dict) and e.get("value")), None
        )
        number = _dict(call.get("number"))
        tags = [t.get("name") for t in call.get("tags") or [] if isinstance(t, dict)]
        teams = [t.get("name") for t in call.get("teams") or [] if isinstance(t, dict)]
        attributes = {
            "aircall_number": _short(number.get("digits")),
            "missed_call_reason": _short(call.get("missed_call_reason")),
            "hangup_cause": _short(call.get("hangup_cause")),
            "tags": _short(", ".join(t for t in tags if t)),
            "teams": _short(", ".join(t for t in teams if t)),
        }
        started = call.get("started_at")
        columns: dict[str, Any] = {
            "outcome": outcome,
            "queue": _short(number.get("name")),
            "wait_s": _seconds(call.get("answered_at") or call.get("ended_at"), started),
            "talk_s": _seconds(call.get("ended_at"), call.get("answered_at")) if answered else 0.0,
            "attributes": {k: v for k, v in attributes.items() if v},
        }
        duration = call.get("duration")
        return FetchedCall(
            external_id=call_id,
            direction="inbound" if inbound else "outbound",
            agent=agent,
            customer_phone=phone_of(call.get("raw_digits")),
            customer_name=name[:200] or None,
            customer_email=str(email)[:320] if email else None,
            started_at=from_unix(started),
            duration_s=float(duration) if isinstance(duration, (int, float)) else None,
            recordings=recordings,
            no_media=not recordings,
            columns={k: v for k, v in columns.items() if v is not None},
            meta={
                "provider": {
                    "call_id": call.get("id"),
                    "status": call.get("status"),
                    "number_id": number.get("id"),
                    "archived": call.get("archived"),
                },
                **({"voicemail": True} if outcome == "voicemail" else {}),
                **({"no_recording": True} if outcome == "answered" and not recordings else {}),
            },
        )

    def _signed(self, call_id: str, field: str, url: str) -> Recording:
        """A signed URL (10 minutes at Aircall): no credentials on it; when refused as
        expired, the call is read again for a fresh one."""

        def refresh() -> Recording | None:
            fresh = self._call(call_id).get(field)
            if isinstance(fresh, str) and fresh.startswith("http") and fresh != url:
                return Recording("mixed", fresh)
            return None

        return Recording("mixed", url, refresh=refresh)

    # -- the webhook ---------------------------------------------------------------------

    def verify_webhook(self, request: WebhookRequest, secret: str) -> WebhookDelivery:
        payload = request.json()
        if not isinstance(payload, dict):
            raise BadRequest("The webhook body is not an Aircall event.", code="malformed_body")
        if not self.webhook_token:
            raise Unauthorized(
                "This connector has no Aircall webhook token yet: enter the token Aircall "
                "shows for the webhook (Edit → New credentials → Webhook token)."
            )
        token = payload.get("token")
        if not isinstance(token, str) or not constant_time_equals(token, self.webhook_token):
            raise Unauthorized(
                "The webhook token in the event does not match this connector's: copy the "
                "token of this webhook from the Aircall Dashboard into the connector."
            )
        event = str(payload.get("event") or "")
        if event not in IMPORT_EVENTS:
            return WebhookDelivery(ignored=f"Aircall event {event[:60]!r} is not imported.")
        ref = self._ref(payload.get("data"))
        if ref is None:
            raise BadRequest("The Aircall event has no call id.", code="malformed_body")
        return WebhookDelivery(refs=[ref])

"""RingCentral (voice): the company call log (`/restapi/v1.0/account/~/call-log`,
`view=Detailed`, only calls with a recording), each recording's `contentUri` downloaded
with the bearer token, and telephony-session webhooks as the real-time trigger.

Auth is the JWT bearer flow: the app's client id and secret (HTTP Basic) plus a user's
JWT credential are exchanged at `/restapi/oauth/token` for an access token, kept in the
client instance and fetched again once when the API answers 401.

A call is known by its `telephonySessionId` (what a telephony-session event names, and
what the call log carries): the webhook's import looks the call-log record up with the
call log's `telephonySessionId` filter."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit

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
from callscribe.security import http
from callscribe.security.crypto import constant_time_equals

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CALL_LOG = "/restapi/v1.0/account/~/call-log"
PER_PAGE = 250  # the call log allows up to 1000; a page of 250 answers quickly
MAX_PAGES = 200  # a first sync of 30 days reads at most 50,000 records
INITIAL_LOOKBACK = timedelta(days=30)
TOKEN_MARGIN_S = 60  # a token this close to its expiry is fetched again
# results of a call nobody talked in: imported with no audio (outcome kept)
NO_CONVERSATION = {
    "Missed",
    "Voicemail",
    "Rejected",
    "Busy",
    "No Answer",
    "Hang Up",
    "Abandoned",
    "Declined",
    "Blocked",
    "Wrong Number",
    "Stopped",
    "Call Failed",
    "Call Failure",
    "Internal Error",
    "IP Phone Offline",
}
_TOKEN = re.compile(r"^[\x21-\x7e]{1,512}$")  # a Validation-Token we echo back

WEBHOOK_HEADER = "Verification-Token"
WEBHOOK_INSTRUCTIONS = (
    "Create a webhook subscription with RingCentral's API (POST /restapi/v1.0/subscription; "
    "the app needs the CallControl permission) "
    "for the event filter /restapi/v1.0/account/~/telephony/sessions?statusCode=Disconnected, "
    "transportType WebHook, "
    "address = the endpoint URL below and verificationToken = the secret below. RingCentral "
    "first checks the URL (its Validation-Token is echoed back here), then sends every "
    "delivery with the Verification-Token header; a call is imported when a party of it "
    "is Disconnected. Subscriptions expire: renew it before expiresIn runs out."
)


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return parse_instant(value)
    except ValueError:
        return None


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def call_id_of(record: dict[str, Any]) -> str:
    """What we know a call by: its telephony session (a webhook names it), else the
    call-log record's id."""
    return str(record.get("telephonySessionId") or record.get("id") or "")


class RingCentralConnector:
    type: ClassVar[str] = "ringcentral"
    label: ClassVar[str] = "RingCentral"
    default_base_url: ClassVar[str] = "https://platform.ringcentral.com"
    base_url_help: ClassVar[str] = (
        "The RingCentral platform: https://platform.ringcentral.com (the sandbox: "
        "https://platform.devtest.ringcentral.com)."
    )
    credential_fields: ClassVar[tuple[CredentialField, ...]] = (
        CredentialField(
            "client_id",
            "Client ID",
            secret=False,
            help="Developer console → your app → Credentials: the Client ID (app key).",
        ),
        CredentialField(
            "client_secret",
            "Client secret",
            help="The app's Client secret, next to the Client ID.",
        ),
        CredentialField(
            "jwt",
            "JWT credential",
            placeholder="eyJ…",
            help="Developer console → Credentials → Create JWT, for a user allowed to read "
            "the company call log and its recordings (app permissions ReadCallLog, "
            "ReadCallRecording, CallControl for webhooks).",
        ),
    )
    supports_webhook: ClassVar[bool] = True
    webhook_header: ClassVar[str] = WEBHOOK_HEADER
    webhook_payload_template: ClassVar[str] = ""
    webhook_uses_secret: ClassVar[bool] = True
    webhook_instructions: ClassVar[str] = WEBHOOK_INSTRUCTIONS

    def __init__(self, base_url: str, credentials: dict[str, str]) -> None:
        self.client_id = (credentials.get("client_id") or "").strip()
        self.client_secret = (credentials.get("client_secret") or "").strip()
        self.jwt = (credentials.get("jwt") or "").strip()
        self.http = ProviderHTTP("RingCentral", base_url, [self.client_secret, self.jwt])
        self._token: str | None = None
        self._token_expires = 0.0

    def redact(self, text: str) -> str:
        text = self.http.redact(text)
        return text.replace(self._token, "[redacted]") if self._token else text

    # -- auth ----------------------------------------------------------------------------

    def _access_token(self) -> str:
        if self._token and time.monotonic() < self._token_expires - TOKEN_MARGIN_S:
            return self._token
        if not (self.client_id and self.client_secret and self.jwt):
            raise ProviderAuthError(
                "Enter the RingCentral client ID, client secret and JWT credential.",
                transient=False,
            )
        response = self.http.post(
            "/restapi/oauth/token",
            data={"grant_type": JWT_GRANT, "assertion": self.jwt},
            auth=(self.client_id, self.client_secret),
            headers={"Accept": "application/json"},
        )
        if response.status_code in (400, 401, 403):
            detail = self._oauth_error(response)
            raise ProviderAuthError(
                f"RingCentral refused the app's credentials ({detail}). Check the client ID "
                "(app key) and client secret, and that the JWT credential is still valid and "
                "enabled for this app.",
                transient=False,
            )
        if response.status_code >= 400:
            raise ProviderError(
                f"RingCentral's token endpoint answered HTTP {response.status_code}.",
                transient=response.status_code in (408, 425),
            )
        try:
            body = response.json()
            token = str(body["access_token"])
            expires_in = float(body.get("expires_in") or 3600)
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderError(
                "RingCentral's token endpoint answered something that is not a token. Check "
                "that the Base URL is the RingCentral platform (https://platform.ringcentral.com).",
                code=ErrorCode.PROVIDER_BAD_ANSWER,
            ) from exc
        self._token, self._token_expires = token, time.monotonic() + expires_in
        return token

    def _oauth_error(self, response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return f"HTTP {response.status_code}"
        if not isinstance(body, dict):
            return f"HTTP {response.status_code}"
        error = str(body.get("error") or body.get("errorCode") or "")[:60]
        description = str(body.get("error_description") or body.get("message") or "")[:160]
        return self.redact(": ".join(p for p in (error, description) if p)) or (
            f"HTTP {response.status_code}"
        )

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """A JSON GET with the bearer token; a 401 fetches a new token once."""
        if path.startswith("http") and origin(path) != origin(self.http.base_url):
            raise ProviderError(
                "RingCentral's next page points at another host; it was not followed.",
                code=ErrorCode.PROVIDER_BAD_ANSWER,
                transient=False,
            )
        for attempt in (1, 2):
            token = self._access_token()
            response = self.http.get(
                path,
                params=params,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            )
            if response.status_code == 401 and attempt == 1:
                self._token = None  # expired or revoked: one new token, then give up
                continue
            break
        if response.status_code in (401, 403):
            detail = http.error_detail(response, limit=160) or f"HTTP {response.status_code}"
            raise ProviderAuthError(
                f"RingCentral refused the request ({self.redact(detail)}). Check that the "
                "JWT's user may read the company call log (permission ReadCallLog).",
                transient=False,
            )
        if response.status_code == 404:
            raise ProviderError(
                f"RingCentral has no {urlsplit(path).path or path} here (HTTP 404). Check the "
                "Base URL.",
                code=ErrorCode.PROVIDER_NOT_FOUND,
                transient=False,
            )
        if response.status_code >= 400:
            self.http.refused(response, transient_statuses=())
        return self.http.json_of(response, hint="check the Base URL.")

    # -- the Protocol --------------------------------------------------------------------

    def test_connection(self) -> str:
        account = self._get("/restapi/v1.0/account/~")
        number = account.get("mainNumber") if isinstance(account, dict) else None
        ident = account.get("id") if isinstance(account, dict) else None
        name = f" {number}" if number else (f" {ident}" if ident else "")
        self._get(CALL_LOG, {"view": "Simple", "perPage": 1})
        return (
            f"Connected to RingCentral account{name}: the JWT works and can read the "
            "company call log."
        )

    def cursor_for(self, last_seen: datetime) -> dict[str, Any]:
        return {"since": iso(last_seen)}

    def _records(self, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every record of a call-log query, page by page (navigation.nextPage)."""
        body = self._get(CALL_LOG, params)
        for _ in range(MAX_PAGES):
            records = body.get("records") if isinstance(body, dict) else None
            if not isinstance(records, list):
                raise ProviderError(
                    "RingCentral's call log came back in an unexpected shape.",
                    code=ErrorCode.PROVIDER_BAD_ANSWER,
                )
            yield from (r for r in records if isinstance(r, dict) and call_id_of(r))
            next_page = ((body.get("navigation") or {}).get("nextPage") or {}).get("uri")
            if not records or not isinstance(next_page, str) or not next_page:
                return
            body = self._get(next_page)

    def list_calls(self, cursor: dict[str, Any] | None) -> Iterator[CallPage]:
        since = parse_time((cursor or {}).get("since")) or datetime.now(UTC) - INITIAL_LOOKBACK
        # the call log answers newest first: read the window, then hand it oldest first
        records = list(
            self._records(
                {
                    "view": "Detailed",
                    "recordingType": "All",
                    "type": "Voice",
                    "dateFrom": iso(since),
                    "perPage": PER_PAGE,
                }
            )
        )
        refs: dict[str, CallRef] = {}
        for record in records:
            started = parse_time(record.get("startTime"))
            if started is not None and started < since:
                continue
            refs.setdefault(call_id_of(record), CallRef(call_id_of(record), started, record))
        ordered = sorted(refs.values(), key=lambda r: (r.created_at or since, r.external_id))
        for i in range(0, len(ordered), 100):
            yield CallPage(ordered[i : i + 100])

    def _find_record(self, ref: CallRef) -> dict[str, Any] | None:
        """The call-log record of a telephony session (what a webhook names)."""
        event_time = parse_time(ref.data.get("eventTime")) or datetime.now(UTC)
        params = {
            "view": "Detailed",
            "telephonySessionId": ref.external_id,
            "dateFrom": iso(event_time - timedelta(days=1)),
            "perPage": 100,
        }
        for record in self._records(params):
            if call_id_of(record) == ref.external_id:
                return record
        return None

    def fetch_call(self, ref: CallRef) -> FetchedCall:
        record = ref.data if ref.data.get("startTime") else self._find_record(ref)
        if record is None:
            # the call log is written a little after the call ends: the next sync has it
            return FetchedCall(external_id=ref.external_id, complete=False)
        direction = str(record.get("direction") or "").lower() or None
        ours, theirs = (
            (record.get("from"), record.get("to"))
            if direction == "outbound"
            else (record.get("to"), record.get("from"))
        )
        ours = ours if isinstance(ours, dict) else {}
        theirs = theirs if isinstance(theirs, dict) else {}
        agent = self._agent(record, ours)
        result = str(record.get("result") or "") or None
        recording: dict[str, Any] = (
            record["recording"] if isinstance(record.get("recording"), dict) else {}
        )
        recordings = []
        content_uri = recording.get("contentUri") if recording else None
        if isinstance(content_uri, str) and content_uri:
            recordings.append(self._recording(content_uri))
        elif result not in NO_CONVERSATION:
            # a conversation whose recording is not listed (yet): a call imported without
            # it would stay so; the sync (recorded calls only) imports it once it is there
            return FetchedCall(external_id=call_id_of(record), complete=False)
        attributes = {
            k: str(record[k])[:100]
            for k in ("action", "reason", "type")
            if isinstance(record.get(k), str) and record.get(k)
        }
        return FetchedCall(
            external_id=call_id_of(record),
            direction=direction if direction in ("inbound", "outbound") else None,
            agent=agent,
            customer_phone=(
                str(theirs.get("phoneNumber"))[:40] if theirs.get("phoneNumber") else None
            ),
            started_at=parse_time(record.get("startTime")),
            duration_s=float(record["duration"]) if record.get("duration") is not None else None,
            recordings=recordings,
            no_media=not recordings,
            columns={
                **({"outcome": result} if result else {}),
                **({"attributes": attributes} if attributes else {}),
            },
            meta={
                "provider": {
                    "call_log_id": record.get("id"),
                    "session_id": record.get("sessionId"),
                    "telephony_session_id": record.get("telephonySessionId"),
                    "result": result,
                    "recording_id": recording.get("id") if recording else None,
                    "recording_type": recording.get("type") if recording else None,
                    "caller_id_name": theirs.get("name"),
                }
            },
        )

    def _agent(self, record: dict[str, Any], ours: dict[str, Any]) -> AgentInfo | None:
        """The extension on our side: the party's extension, else the record's, else a
        leg's."""
        ext_id = ours.get("extensionId")
        name = ours.get("name")
        number = ours.get("extensionNumber")
        if not ext_id and isinstance(record.get("extension"), dict):
            ext_id = record["extension"].get("id")
        for leg in record.get("legs") or []:
            if ext_id and name:
                break
            if not isinstance(leg, dict):
                continue
            leg_ext: dict[str, Any] = (
                leg["extension"] if isinstance(leg.get("extension"), dict) else {}
            )
            for party in (leg.get("to"), leg.get("from")):
                if isinstance(party, dict) and party.get("extensionId"):
                    ext_id = ext_id or party.get("extensionId")
                    name = name or party.get("name")
                    number = number or party.get("extensionNumber")
            ext_id = ext_id or leg_ext.get("id")
        if not ext_id and not name:
            return None
        return AgentInfo(
            external_id=str(ext_id or name),
            name=str(name or f"Extension {ext_id}")[:200],
            extension_id=str(number) if number else None,
            phone=str(ours.get("phoneNumber"))[:40] if ours.get("phoneNumber") else None,
        )

    def _recording(self, content_uri: str) -> Recording:
        """The bearer token goes only to RingCentral: the platform's own origin, or, for
        the RingCentral cloud, its media hosts (media.ringcentral.com)."""
        scheme, host, _port = origin(content_uri)
        ours = origin(content_uri) == origin(self.http.base_url)
        cloud = scheme == "https" and (
            host == "ringcentral.com" or host.endswith(".ringcentral.com")
        )
        base_cloud = origin(self.http.base_url)[1].endswith(".ringcentral.com")
        if not (ours or (cloud and base_cloud)):
            raise ProviderError(
                f"The recording is on {host}, which is not RingCentral's; it was not fetched "
                "with the account's token.",
                transient=False,
            )
        return Recording(
            "mixed", content_uri, headers={"Authorization": f"Bearer {self._access_token()}"}
        )

    # -- the webhook ---------------------------------------------------------------------

    def verify_webhook(self, request: WebhookRequest, secret: str) -> WebhookDelivery:
        validation = request.headers.get("validation-token")
        if validation is not None:
            # the subscription's creation: RingCentral wants its token back, with 200
            if not _TOKEN.match(validation):
                raise BadRequest("The Validation-Token header is malformed.", code="malformed_body")
            return WebhookDelivery(
                ignored="subscription validation",
                response_headers={"Validation-Token": validation},
                response_status=200,
            )
        given = request.headers.get("verification-token")
        if not given:
            raise Unauthorized(
                "The Verification-Token header is missing: create the subscription with "
                "verificationToken = this connector's webhook secret."
            )
        if not secret or not constant_time_equals(given.strip(), secret):
            raise Unauthorized(
                "The Verification-Token header does not match this connector's secret."
            )
        payload = request.json()
        if not isinstance(payload, dict) or not isinstance(payload.get("body"), dict):
            raise BadRequest("The delivery has no event body.", code="malformed_body")
        event = str(payload.get("event") or "")
        body = payload["body"]
        delivery_id = str(payload.get("uuid") or "") or None
        if "/telephony/sessions" not in event:
            return WebhookDelivery(delivery_id=delivery_id, ignored="not a telephony-session event")
        session_id = body.get("telephonySessionId")
        parties = [p for p in body.get("parties") or [] if isinstance(p, dict)]
        ended = any(
            isinstance(p.get("status"), dict) and p["status"].get("code") == "Disconnected"
            for p in parties
        )
        if not ended:
            return WebhookDelivery(delivery_id=delivery_id, ignored="the call has not ended")
        if not isinstance(session_id, str) or not session_id.strip():
            raise BadRequest("The event has no telephonySessionId.", code="malformed_body")
        return WebhookDelivery(
            refs=[
                CallRef(
                    session_id.strip()[:200],
                    parse_time(body.get("eventTime")),
                    {
                        "telephonySessionId": session_id.strip()[:200],
                        "sessionId": str(body.get("sessionId") or "")[:100],
                        "eventTime": str(body.get("eventTime") or "")[:40],
                    },
                )
            ],
            delivery_id=delivery_id,
        )

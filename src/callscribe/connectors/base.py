"""What every connector type is: a class behind the `ConnectorType` Protocol, found
through the registry. A new provider is one module that calls `register` plus its tests
(and an entry in `registry.CONNECTOR_TYPES`).

A type knows its provider's protocol and nothing of our database: it lists the calls
since a cursor, fetches one call's recordings and metadata, and turns the provider's
errors into `ProviderError`s whose messages a user can act on and that never contain a
credential.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, NoReturn, Protocol
from urllib.parse import parse_qsl, urlsplit

import httpx

from callscribe.errors import (
    BadRequest,
    CallscribeError,
    ErrorCode,
    PayloadTooLarge,
    UpstreamError,
)
from callscribe.ingest.parsers.base import ParsedTurn
from callscribe.security import http
from callscribe.settings import get_settings

REDACTED = "[redacted]"
PROVIDER_RETRIES = 2  # GETs to a provider API are idempotent: retried with backoff


class ProviderError(UpstreamError):
    """The provider refused or failed. `transient` errors (unreachable, timeout, 5xx)
    fail a sync without moving its cursor; the others are about one call."""

    code: str = ErrorCode.PROVIDER_ERROR

    def __init__(self, message: str, *, code: str | None = None, transient: bool = True):
        super().__init__(message, code=code)
        self.transient = transient


class ProviderAuthError(ProviderError):
    code: str = ErrorCode.PROVIDER_AUTH_FAILED


# -- what a connector hands back ---------------------------------------------------------


@dataclass
class CredentialField:
    name: str
    label: str
    secret: bool = True
    placeholder: str = ""
    help: str = ""
    # False: may be left empty at first (a webhook token or signing secret the provider
    # only shows once the webhook, which needs this connector's URL, exists): added
    # later by editing the connector
    required: bool = True


@dataclass
class CallRef:
    """A call (or chat, or ticket) as the provider lists it. `created_at` orders calls
    for the cursor. `data` is what the listing or the webhook already said of it; it is
    kept in the webhook's event row, so it must be JSON (str keys, plain values).
    `updatable`: the item changes after it is first imported (a ticket gaining comments):
    when already here, it is fetched again and its turns are brought up to date."""

    external_id: str
    created_at: datetime | None = None
    data: dict[str, Any] = field(default_factory=dict)
    updatable: bool = False


@dataclass
class CallPage:
    """One page of a listing. `cursor`: the provider's own cursor after this page
    (Zendesk's `after_cursor`, a last-modified key): when a page gives one, a successful
    sync stores the last page's instead of `cursor_for(last seen)`."""

    calls: list[CallRef]
    cursor: dict[str, Any] | None = None


@dataclass
class WebhookRequest:
    """One delivery to /api/webhooks/<type>/<connector id>, as the provider sent it.
    `url` is the public URL the provider was given (settings.public_url + path + the
    query string it sent), which is what signature schemes like Twilio's sign."""

    url: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    content_type: str = ""

    def form(self) -> dict[str, str]:
        """The body as a form (application/x-www-form-urlencoded): the last value of
        each name, as Twilio's parameters are."""
        try:
            return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            return {}

    def json(self) -> Any:
        """The body as JSON; BadRequest (malformed_body) saying so when it is not."""
        try:
            return json.loads(self.body or b"")
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest("The webhook body is not JSON.", code="malformed_body") from exc


@dataclass
class WebhookDelivery:
    """What a verified delivery asks for: the calls to import (none for an event we do
    not act on, such as a call starting), and the provider's id of this delivery when it
    sends one (a re-delivery with the same id is recognised even before it is parsed)."""

    refs: list[CallRef] = field(default_factory=list)
    delivery_id: str | None = None
    ignored: str | None = None  # why nothing is imported, for the response and the log
    # headers the provider expects back (RingCentral echoes Validation-Token)
    response_headers: dict[str, str] = field(default_factory=dict)
    response_status: int = 202  # RingCentral's validation handshake wants 200


@dataclass
class Recording:
    """Something to download. kind: agent | customer (separate tracks), mixed, transcript.
    `auth` is only ever answered to a challenge from the provider's own origin."""

    kind: str
    url: str
    auth: httpx.Auth | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # a short-lived signed URL: how to get a fresh one when the download is refused as
    # expired (403/410); download() asks once
    refresh: Callable[[], Recording | None] | None = None


@dataclass
class AgentInfo:
    external_id: str
    name: str
    is_bot: bool = False
    extension_id: str | None = None
    phone: str | None = None
    email: str | None = None


@dataclass
class FetchedCall:
    external_id: str
    complete: bool = True  # False: still in progress at the provider; import it later
    direction: str | None = None
    agent: AgentInfo | None = None
    customer_phone: str | None = None
    customer_name: str | None = None
    started_at: datetime | None = None
    duration_s: float | None = None
    recordings: list[Recording] = field(default_factory=list)
    # channel roles of the tracks, for the stereo file made from them
    track_roles: dict[str, str] = field(default_factory=lambda: {"agent": "agent"})
    meta: dict[str, Any] = field(default_factory=dict)
    # a text engagement (chat, email, ticket): its turns instead of a recording
    channel: str = "voice"
    turns: list[ParsedTurn] | None = None
    customer_email: str | None = None
    thread_id: str | None = None  # groups a ticket's or a chat's engagements
    # engagement columns (ingest.request.ENGAGEMENT_COLUMNS: queue, outcome, wait_s,
    # hold_s, facts, attributes, ...) the provider knows
    columns: dict[str, Any] = field(default_factory=dict)
    # a recording a person can still listen to although it is not transcribed here
    # (a voicemail with no audio left, a missed call): imported with no audio at all
    no_media: bool = False

    def recording(self, kind: str) -> Recording | None:
        return next((r for r in self.recordings if r.kind == kind), None)


class ConnectorType(Protocol):
    type: ClassVar[str]
    label: ClassVar[str]
    default_base_url: ClassVar[str]
    base_url_help: ClassVar[str]
    credential_fields: ClassVar[tuple[CredentialField, ...]]
    supports_webhook: ClassVar[bool]

    def __init__(self, base_url: str, credentials: dict[str, str]) -> None: ...

    def test_connection(self) -> str:
        """A sentence saying what works; raises ProviderError saying what does not."""
        ...

    def list_calls(self, cursor: dict[str, Any] | None) -> Iterator[CallPage]:
        """Pages of calls at or after the cursor, oldest first."""
        ...

    def cursor_for(self, last_seen: datetime) -> dict[str, Any]:
        """The cursor that makes the next `list_calls` start at `last_seen`."""
        ...

    def fetch_call(self, ref: CallRef) -> FetchedCall: ...

    def redact(self, text: str) -> str:
        """`text` without any of this connector's credentials."""
        ...


class WebhookConnector(Protocol):
    """A type with `supports_webhook` also has these. The class attributes fill the
    Integrations page's set-up box; `verify_webhook` checks a delivery the provider's
    own way (signature, token) and says which calls it is about."""

    webhook_header: ClassVar[str]  # the header that carries the proof, "" for none
    webhook_payload_template: ClassVar[str]  # what to paste as the body, "" when fixed
    webhook_instructions: ClassVar[str]

    def verify_webhook(self, request: WebhookRequest, secret: str) -> WebhookDelivery:
        """`secret` is the connector's generated webhook secret (for providers that let
        us choose one); providers that sign with their own credentials use those. Raises
        Unauthorized when the proof is missing or wrong, BadRequest when malformed."""
        ...


# -- HTTP shared by connector types ------------------------------------------------------


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, (parts.hostname or "").lower(), port


class ChallengeBasicAuth(httpx.Auth):
    """Basic auth sent only when the provider's own origin asks for it (401 with a
    Basic challenge), so a redirect to an object store never receives the password."""

    def __init__(self, username: str, password: str, allowed_origin: str):
        self._basic = httpx.BasicAuth(username, password)
        self._origin = origin(allowed_origin)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        response = yield request
        challenge = response.headers.get("www-authenticate", "").lower()
        if (
            response.status_code == 401
            and challenge.startswith("basic")
            and origin(str(request.url)) == self._origin
        ):
            yield from self._basic.auth_flow(request)


class _RedactQueryStrings(logging.Filter):
    """httpx logs every request URL at INFO; providers like the dialer take credentials
    in the query string, so query strings never reach the logs."""

    _url = re.compile(r"(https?://[^\s?\"']+)\?[^\s\"']*")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(
                self._url.sub(r"\1?[query redacted]", str(a)) if "?" in str(a) else a for a in args
            )
        if isinstance(record.msg, str) and "?" in record.msg:
            record.msg = self._url.sub(r"\1?[query redacted]", record.msg)
        return True


_log_filter = _RedactQueryStrings()
for _name in ("httpx", "httpcore"):
    _logger = logging.getLogger(_name)
    if _log_filter not in _logger.filters:
        _logger.addFilter(_log_filter)


class ProviderHTTP:
    """GET requests to a provider's API: SSRF check, the configured timeout, and errors
    turned into sentences naming the provider (never the URL's query or a secret)."""

    def __init__(self, provider: str, base_url: str, secrets: list[str]):
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self._secrets = [s for s in secrets if s]

    def redact(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return text

    def host(self) -> str:
        parts = urlsplit(self.base_url)
        return parts.netloc or self.base_url

    def get(
        self,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
    ) -> httpx.Response:
        # a listing or a lookup is idempotent: transient failures are retried
        return self.send("GET", path, params=params, headers=headers, timeout=timeout, auth=auth)

    def post(
        self,
        path: str,
        *,
        data: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
    ) -> httpx.Response:
        """A POST (an OAuth token request): not retried on failure."""
        return self.send(
            "POST", path, data=data, json=json, headers=headers, timeout=timeout, auth=auth
        )

    def send(self, method: str, path: str, *, timeout: float | None = None, **kwargs: Any):  # type: ignore[no-untyped-def]
        """One request; 5xx and unreachable are transient ProviderErrors. A GET is
        retried by the guard (transport errors, 429 and 502-504, honouring Retry-After);
        a 429 still there after that is a transient ProviderError, so the sync keeps its
        cursor and the next one resumes."""
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        timeout = timeout or get_settings().URL_TIMEOUT_S
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        retries = PROVIDER_RETRIES if method == "GET" else 0
        response = self._send_once(method, url, timeout, retries, kwargs)
        if response.status_code == 429:
            raise ProviderError(
                f"{self.provider} is rate-limiting this account (HTTP 429); the next sync "
                "carries on from where this one stopped.",
                code=ErrorCode.PROVIDER_RATE_LIMITED,
            )
        if response.status_code >= 500:
            raise ProviderError(
                f"{self.provider} answered HTTP {response.status_code} (a server error on its "
                "side). Try again later; calls are picked up by the next sync.",
                code=ErrorCode.PROVIDER_SERVER_ERROR,
            )
        return response

    def refused(
        self, response: httpx.Response, *, transient_statuses: tuple[int, ...] = (408, 425)
    ) -> NoReturn:
        """A 4xx the connector has no better words for: the provider's own (redacted)."""
        detail = http.error_detail(response, limit=200) or f"HTTP {response.status_code}"
        raise ProviderError(
            f"{self.provider} refused the request: {self.redact(detail)}.",
            transient=response.status_code in transient_statuses,
        )

    def json_of(self, response: httpx.Response, *, hint: str) -> Any:
        """The answer's JSON; else a transient ProviderError (a wrong Base URL, or a proxy's
        error page) ending with `hint` (what to check)."""
        try:
            return response.json()
        except ValueError as exc:
            raise ProviderError(
                f"{self.provider} answered something that is not JSON: {hint}",
                code=ErrorCode.PROVIDER_BAD_ANSWER,
            ) from exc

    def _send_once(
        self, method: str, url: str, timeout: float, retries: int, kwargs: dict[str, Any]
    ) -> httpx.Response:
        try:
            return http.request(
                method, url, timeout=timeout, secrets=self._secrets, retries=retries, **kwargs
            )
        except http.OutboundTimeout as exc:
            raise ProviderError(
                f"{self.provider} at {self.host()} did not answer within {timeout:g} seconds. "
                "It may be overloaded or down; try again later.",
                code=ErrorCode.PROVIDER_TIMEOUT,
            ) from exc
        except http.OutboundUnreachable as exc:
            cause = exc.__cause__
            reason = self.redact(str(cause) if cause else "") or type(cause).__name__
            raise ProviderError(
                f"Cannot reach {self.provider} at {self.host()} ({reason}). Check the Base URL "
                "and that the server is running and reachable from this machine.",
                code=ErrorCode.PROVIDER_UNREACHABLE,
            ) from exc
        except http.UnsafeURL:
            raise
        except UpstreamError as exc:
            if not exc.message.startswith("Cannot resolve"):
                raise ProviderError(
                    self.redact(exc.message), code=ErrorCode.PROVIDER_UNREACHABLE
                ) from exc
            raise ProviderError(
                f"Cannot resolve the {self.provider} host {self.host()}: check the Base URL.",
                code=ErrorCode.PROVIDER_UNREACHABLE,
            ) from exc


EXPIRED_STATUSES = frozenset({403, 410})  # what an object store answers to an old signature


def download(
    recording: Recording, sink: Any, *, redact: Any = None, max_bytes: int | None = None
) -> None:
    """Stream a recording into `sink` (a StagedAudio or any object with .write) through the
    SSRF guard, following redirects to pre-signed URLs. A recording with `refresh` whose
    URL is refused as expired is downloaded once more from the fresh URL."""
    try:
        _download(recording, sink, redact=redact, max_bytes=max_bytes)
    except _Expired as exc:
        fresh = recording.refresh() if recording.refresh is not None else None
        if fresh is None:
            raise exc.error from None
        fresh.refresh = None  # once
        _download(fresh, sink, redact=redact, max_bytes=max_bytes)


class _Expired(Exception):
    def __init__(self, error: ProviderError):
        self.error = error


def _download(recording: Recording, sink: Any, *, redact: Any, max_bytes: int | None) -> None:
    try:
        with http.OutboundClient() as client:
            client.download(
                recording.url,
                sink,
                max_bytes=max_bytes,
                headers=recording.headers or None,
                auth=recording.auth,
                too_large=_TooLarge,
            )
    except _TooLarge as exc:
        raise ProviderError(
            f"The {recording.kind} file is larger than {max_bytes} bytes.", transient=False
        ) from exc
    except ProviderError:
        raise
    except CallscribeError as exc:  # HTTP errors, refused URLs, size limit
        message = redact(exc.message) if redact else exc.message
        transient = not (isinstance(exc, http.UpstreamStatus) and 400 <= exc.http_status < 500)
        transient = transient and isinstance(exc, UpstreamError)
        error = ProviderError(
            f"The {recording.kind} recording could not be downloaded: {message}",
            code=ErrorCode.RECORDING_DOWNLOAD_FAILED,
            transient=transient,
        )
        error.__cause__ = exc
        if (
            recording.refresh is not None
            and isinstance(exc, http.UpstreamStatus)
            and exc.http_status in EXPIRED_STATUSES
        ):
            raise _Expired(error) from exc
        raise error from exc


class _TooLarge(PayloadTooLarge):
    """The limit given to download(); reported as a ProviderError about that call."""

"""What every connector type is: a class behind the `ConnectorType` Protocol, found
through the registry. A new provider is one module that calls `register` plus its tests
(and an entry in `registry.CONNECTOR_TYPES`).

A type knows its provider's protocol and nothing of our database: it lists the calls
since a cursor, fetches one call's recordings and metadata, and turns the provider's
errors into `ProviderError`s whose messages a user can act on and that never contain a
credential.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol
from urllib.parse import urlsplit

import httpx

from callscribe.errors import (
    CallscribeError,
    ErrorCode,
    PayloadTooLarge,
    UpstreamError,
)
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


@dataclass
class CallRef:
    """A call as the provider lists it. `created_at` orders calls for the cursor."""

    external_id: str
    created_at: datetime | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class CallPage:
    calls: list[CallRef]


@dataclass
class Recording:
    """Something to download. kind: agent | customer (separate tracks), mixed, transcript.
    `auth` is only ever answered to a challenge from the provider's own origin."""

    kind: str
    url: str
    auth: httpx.Auth | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class AgentInfo:
    external_id: str
    name: str
    is_bot: bool = False
    extension_id: str | None = None
    phone: str | None = None


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
    ) -> httpx.Response:
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        timeout = timeout or get_settings().URL_TIMEOUT_S
        try:
            # a listing or a lookup is idempotent: transient failures are retried
            response = http.request(
                "GET",
                url,
                params=params,
                headers=headers,
                timeout=timeout,
                secrets=self._secrets,
                retries=PROVIDER_RETRIES,
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
        if response.status_code >= 500:
            raise ProviderError(
                f"{self.provider} answered HTTP {response.status_code} (a server error on its "
                "side). Try again later; calls are picked up by the next sync.",
                code=ErrorCode.PROVIDER_SERVER_ERROR,
            )
        return response


def download(
    recording: Recording, sink: Any, *, redact: Any = None, max_bytes: int | None = None
) -> None:
    """Stream a recording into `sink` (a StagedAudio or any object with .write) through the
    SSRF guard, following redirects to pre-signed URLs."""
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
        raise ProviderError(
            f"The {recording.kind} recording could not be downloaded: {message}",
            code=ErrorCode.RECORDING_DOWNLOAD_FAILED,
            transient=transient,
        ) from exc


class _TooLarge(PayloadTooLarge):
    """The limit given to download(); reported as a ProviderError about that call."""

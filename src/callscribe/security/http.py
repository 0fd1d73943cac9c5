"""The one outbound HTTP client. Every request callscribe makes to a URL it was given
(audio URLs, webhooks, Slack, connectors, AI and speech endpoints) goes through here:

* the SSRF guard on every connection of every hop: the host is resolved ONCE, every
  address it gave is checked, and the socket connects to a checked address (no second
  lookup a rebinding DNS server could answer differently). Host header, TLS SNI and
  certificate verification stay on the original hostname;
* timeouts (connect bounded at 10 s) and a bounded number of redirects, followed only
  when the call asks for it; credentials are not sent to another origin;
* retries with exponential backoff honouring Retry-After, opt-in per call (only where the
  call is idempotent);
* error messages without credentials, query strings or the caller's secrets, and never a
  response body;
* streaming downloads with a size limit checked as bytes arrive.
"""

from __future__ import annotations

import email.utils
import os
import ssl
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import certifi
import httpcore
import httpx

from callscribe.errors import CallscribeError, PayloadTooLarge, UpstreamError
from callscribe.security import outbound
from callscribe.security.outbound import UnsafeURL, redact_url
from callscribe.settings import get_settings

__all__ = [
    "OutboundClient",
    "OutboundTimeout",
    "OutboundUnreachable",
    "UnsafeURL",
    "UpstreamStatus",
    "error_detail",
    "parse_retry_after",
]

USER_AGENT = "callscribe/0.1 (+https://github.com/callscribe)"
CHUNK = 1024 * 1024
MAX_CONNECT_S = 10.0
MAX_BODY_BYTES = 32 * 1024 * 1024  # request(): an answer we read whole is never larger
RETRY_STATUSES = frozenset({408, 429, 502, 503, 504})
REDACTED = "***"
_CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "cookie")


# the subclasses keep UpstreamError's code and status: those are API contracts


class OutboundTimeout(UpstreamError):
    """The remote did not answer in time."""


class OutboundUnreachable(UpstreamError):
    """No connection, or it broke off."""


class UpstreamStatus(UpstreamError):
    """The remote answered with an error status (raised only where the call asked)."""

    def __init__(self, message: str, *, http_status: int, retry_after_s: float | None = None):
        super().__init__(message, status=502)
        self.http_status = http_status
        self.retry_after_s = retry_after_s


# ----------------------------------------------------------------------- the pinned socket


class _PinnedBackend(httpcore.NetworkBackend):
    """Opens each TCP connection to an address the SSRF guard checked, from one lookup.

    httpcore hands us the URL's hostname; we resolve it once, check every address, and
    connect to those addresses only. httpcore then starts TLS with the hostname it has
    (SNI and certificate checks on the name, not the IP), and the Host header is built
    from the URL, so pinning changes nothing the server sees."""

    def __init__(
        self, allow_private: bool, allow_list: outbound.PrivateAllowList | None = None
    ) -> None:
        self._inner = httpcore.SyncBackend()
        self._allow_private = allow_private
        self._allow_list = allow_list

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = outbound.resolve(
            host, port, allow_private=self._allow_private, allow_list=self._allow_list
        )
        error: Exception | None = None
        for address in addresses:
            try:
                return self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc  # the next checked address, as a resolver-ordered fallback
        assert error is not None
        raise error

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        raise UnsafeURL("Unix sockets are not an outbound destination.")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport with the pinned backend under its connection pool."""

    def __init__(
        self,
        *,
        allow_private: bool,
        verify: bool = True,
        allow_list: outbound.PrivateAllowList | None = None,
    ) -> None:
        super().__init__(verify=verify)
        # an admin's CA bundle (SSL_CERT_FILE, as httpx honours it) or Mozilla's
        context = ssl.create_default_context(
            cafile=os.environ.get("SSL_CERT_FILE") or certifi.where()
        )
        if not verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        # httpx builds the pool without a backend parameter; rebuild it with ours
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=10,
            max_keepalive_connections=5,
            network_backend=_PinnedBackend(allow_private, allow_list),
        )


# ----------------------------------------------------------------------- helpers


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After is delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 and seconds == seconds else None  # NaN
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now_dt = datetime.fromtimestamp(now if now is not None else time.time(), UTC)
    return max(0.0, (when - now_dt).total_seconds())


def error_detail(response: httpx.Response, *, limit: int = 300) -> str | None:
    """What a user may be shown of an error answer: the provider's own message from an
    OpenAI-style JSON error on a 4xx (e.g. "Incorrect API key provided"), else nothing.
    A 5xx or a non-JSON body may be an internal service's page: it is never echoed."""
    if not 400 <= response.status_code < 500:
        return None
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict):
        error = error.get("message")
    if not isinstance(error, str):
        error = body.get("detail") if isinstance(body.get("detail"), str) else None
    return error.strip()[:limit] if error and error.strip() else None


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


class _Sink(Protocol):
    def write(self, chunk: bytes, /) -> Any: ...


# ----------------------------------------------------------------------- the client


class OutboundClient:
    """A guarded client. Use one per unit of work (a sync, a transcription, one delivery
    attempt) as a context manager; connections to the same origin are reused."""

    def __init__(
        self,
        *,
        timeout: float | None = None,
        allow_private: bool | None = None,
        secrets: Sequence[str | None] = (),
        max_redirects: int | None = None,
        backoff_cap_s: float = 30.0,
        headers: dict[str, str] | None = None,
        allow_list: outbound.PrivateAllowList | None = None,
    ) -> None:
        """`allow_list`: a company's private destinations, for its deliveries only."""
        settings = get_settings()
        self.timeout = timeout or settings.URL_TIMEOUT_S
        self.max_redirects = settings.URL_MAX_REDIRECTS if max_redirects is None else max_redirects
        self.backoff_cap_s = backoff_cap_s
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)
        allow = outbound.allow_private_default(allow_private)
        self._http = httpx.Client(
            transport=GuardedTransport(allow_private=allow, allow_list=allow_list),
            timeout=self._timeout(self.timeout),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT, **(headers or {})},
            trust_env=False,  # a proxy would resolve names itself, past the guard
        )

    def __enter__(self) -> OutboundClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @staticmethod
    def _timeout(seconds: float) -> httpx.Timeout:
        return httpx.Timeout(seconds, connect=min(seconds, MAX_CONNECT_S))

    def redact(self, text: str) -> str:
        """`text` without the secrets this client was given."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    # -- requests

    @contextmanager
    def stream(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        content: bytes | str | None = None,
        data: dict[str, Any] | None = None,
        files: Any = None,
        json: Any = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        timeout: float | None = None,
        follow_redirects: bool = False,
        retries: int = 0,
        raise_for_status: bool = False,
    ) -> Iterator[httpx.Response]:
        """Send a request and yield the (streaming) answer. Redirects are followed only
        when asked, up to max_redirects, each hop through the guard, with credentials
        dropped when a hop leaves the origin. `retries` > 0 retries transport errors and
        408/429/502/503/504 with backoff and Retry-After: pass it only for idempotent
        calls. Raises UnsafeURL, OutboundTimeout, OutboundUnreachable, UpstreamError and,
        with raise_for_status, UpstreamStatus."""
        timeout = timeout or self.timeout
        current = url
        hop_headers = dict(headers or {})
        hop_auth = auth
        hops = 0
        attempt = 0
        while True:
            parts = urlsplit(current)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise UnsafeURL(f"Only http and https URLs are accepted, got {current[:200]!r}.")
            response = self._send(
                method,
                current,
                params=params if hops == 0 else None,
                headers=hop_headers,
                content=content,
                data=data,
                files=files,
                json=json,
                auth=hop_auth,
                timeout=timeout,
            )
            retry_wait = self._retry_wait(response, attempt, retries)
            if retry_wait is not None:
                if isinstance(response, httpx.Response):
                    response.close()
                attempt += 1
                time.sleep(retry_wait)
                continue
            if isinstance(response, Exception):
                raise response
            try:
                if follow_redirects and response.is_redirect:
                    location = response.headers.get("location")
                    if not location:
                        raise UpstreamError("Redirect without a Location header.")
                    if hops >= self.max_redirects:
                        raise UpstreamError(f"Too many redirects (more than {self.max_redirects}).")
                    target = urljoin(str(response.url), location)
                    if _origin(target) != _origin(current):
                        hop_auth = None
                        hop_headers = {
                            k: v
                            for k, v in hop_headers.items()
                            if k.lower() not in _CREDENTIAL_HEADERS
                        }
                    if response.status_code == 303 or (
                        response.status_code in (301, 302) and method == "POST"
                    ):
                        method, content, data, files, json = "GET", None, None, None, None
                    current = target
                    hops += 1
                    continue
                if raise_for_status and response.status_code >= 400:
                    raise UpstreamStatus(
                        f"{redact_url(current)} answered HTTP {response.status_code}.",
                        http_status=response.status_code,
                        retry_after_s=parse_retry_after(response.headers.get("retry-after")),
                    )
                yield response
                return
            finally:
                response.close()

    def _send(
        self, method: str, url: str, *, timeout: float, **kwargs: Any
    ) -> httpx.Response | OutboundTimeout | OutboundUnreachable:
        """One request; a transport failure comes back as a (redacted) error value so the
        retry loop can decide, and a refusal by the guard is raised at once."""
        try:
            request = self._http.build_request(
                method,
                url,
                params=kwargs["params"],
                headers=kwargs["headers"],
                content=kwargs["content"],
                data=kwargs["data"],
                files=kwargs["files"],
                json=kwargs["json"],
                timeout=self._timeout(timeout),
            )
            return self._http.send(request, stream=True, auth=kwargs["auth"])
        except httpx.TimeoutException as exc:
            timed_out = OutboundTimeout(
                f"Timed out fetching {redact_url(url)} (after {timeout:g} s)."
            )
            timed_out.__cause__ = exc
            return timed_out
        except httpx.HTTPError as exc:
            reason = self.redact(str(exc))[:200] or type(exc).__name__
            unreachable = OutboundUnreachable(
                f"Could not fetch {redact_url(url)}: {type(exc).__name__}: {reason}."
            )
            unreachable.__cause__ = exc
            return unreachable

    def _retry_wait(
        self, response: httpx.Response | Exception, attempt: int, retries: int
    ) -> float | None:
        if attempt >= retries:
            return None
        if isinstance(response, httpx.Response):
            if response.status_code not in RETRY_STATUSES:
                return None
            after = parse_retry_after(response.headers.get("retry-after"))
        else:
            after = None
        backoff = 0.5 * 2**attempt
        return max(0.0, min(after if after is not None else backoff, self.backoff_cap_s))

    def request(
        self, method: str, url: str, *, max_bytes: int = MAX_BODY_BYTES, **kwargs: Any
    ) -> httpx.Response:
        """stream(), with the body read whole (at most max_bytes) and the connection
        released; the returned response has .content, .json() and .text."""
        with self.stream(method, url, **kwargs) as response:
            body = bytearray()
            try:
                for chunk in response.iter_bytes(CHUNK):
                    body += chunk
                    if len(body) > max_bytes:
                        raise UpstreamError(
                            f"{redact_url(url)} answered with more than {max_bytes} bytes."
                        )
            except httpx.TimeoutException as exc:
                raise OutboundTimeout(f"Timed out reading from {redact_url(url)}.") from exc
            except httpx.HTTPError as exc:
                raise OutboundUnreachable(
                    f"The answer from {redact_url(url)} broke off ({type(exc).__name__})."
                ) from exc
            return httpx.Response(
                response.status_code,
                headers=response.headers,
                content=bytes(body),
                request=response.request,
            )

    def download(
        self,
        url: str,
        sink: _Sink,
        *,
        max_bytes: int | None = None,
        headers: dict[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        too_large: type[CallscribeError] = PayloadTooLarge,
    ) -> int:
        """GET `url` (redirects followed) into `sink`, refusing more than max_bytes as the
        bytes arrive (and at once when Content-Length says so); returns the size."""
        with self.stream(
            "GET", url, headers=headers, auth=auth, follow_redirects=True, raise_for_status=True
        ) as response:
            limit = f"{max_bytes // (1024 * 1024)} MB" if max_bytes else ""
            declared = response.headers.get("content-length", "")
            if max_bytes is not None and declared.isdigit() and int(declared) > max_bytes:
                raise too_large(f"The file at the URL is larger than the {limit} limit.")
            size = 0
            try:
                for chunk in response.iter_bytes(CHUNK):
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise too_large(f"The file at the URL is larger than the {limit} limit.")
                    sink.write(chunk)
            except httpx.TimeoutException as exc:
                raise OutboundTimeout(f"Timed out downloading {redact_url(url)}.") from exc
            except httpx.HTTPError as exc:
                raise OutboundUnreachable(
                    f"The download of {redact_url(url)} broke off ({type(exc).__name__})."
                ) from exc
        return size


def request(method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One guarded request with a client of its own (see OutboundClient.request)."""
    client_kwargs = {
        k: kwargs.pop(k) for k in ("timeout", "allow_private", "secrets") if k in kwargs
    }
    with OutboundClient(**client_kwargs) as http:
        return http.request(method, url, **kwargs)


@contextmanager
def stream_get(
    url: str,
    *,
    headers: dict[str, str] | None = None,
    auth: httpx.Auth | tuple[str, str] | None = None,
    timeout: float | None = None,
    allow_private: bool | None = None,
) -> Iterator[httpx.Response]:
    """GET following redirects through the guard; yields the streaming 2xx answer."""
    with (
        OutboundClient(timeout=timeout, allow_private=allow_private) as http,
        http.stream(
            "GET", url, headers=headers, auth=auth, follow_redirects=True, raise_for_status=True
        ) as response,
    ):
        yield response

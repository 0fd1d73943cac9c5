"""Safe outbound HTTP: every URL a user gives us (audio URLs, automations, connectors) is
checked against private, loopback and link-local targets before we connect, on every
redirect hop, unless an admin allowed private URLs."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urljoin, urlsplit

import httpx

from callscribe.errors import BadRequest, UpstreamError
from callscribe.settings import get_settings

USER_AGENT = "callscribe/0.1 (+https://github.com/callscribe)"


class UnsafeURL(BadRequest):
    code = "url_not_allowed"


def check_url(url: str, *, allow_private: bool | None = None) -> None:
    """Raise UnsafeURL unless `url` is http(s) and every address it resolves to is public."""
    if allow_private is None:
        allow_private = get_settings().ALLOW_PRIVATE_URLS
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeURL(f"Only http and https URLs are accepted, got {url[:200]!r}.")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise UpstreamError(f"Cannot resolve host {parts.hostname!r}: {exc.strerror}.") from exc
    for info in infos:
        addr = ipaddress.ip_address(info[4][0])
        if not addr.is_global or addr.is_multicast:
            raise UnsafeURL(
                f"The URL points to a private, loopback or link-local address ({addr}); "
                "an admin can allow this with CALLSCRIBE_ALLOW_PRIVATE_URLS."
            )


def client(timeout: float | None = None) -> httpx.Client:
    timeout = timeout or get_settings().URL_TIMEOUT_S
    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
    )


@contextmanager
def stream_get(
    url: str,
    *,
    headers: dict[str, str] | None = None,
    auth: httpx.Auth | tuple[str, str] | None = None,
    timeout: float | None = None,
    max_redirects: int | None = None,
    allow_private: bool | None = None,
) -> Iterator[httpx.Response]:
    """GET with the SSRF check on each hop and a bounded number of redirects; yields the
    final streaming response (status already checked: 2xx)."""
    max_redirects = get_settings().URL_MAX_REDIRECTS if max_redirects is None else max_redirects
    with client(timeout) as http:
        current = url
        for _hop in range(max_redirects + 1):
            check_url(current, allow_private=allow_private)
            try:
                request = http.build_request("GET", current, headers=headers)
                response = http.send(request, stream=True, auth=auth)  # type: ignore[arg-type]
            except httpx.TimeoutException as exc:
                raise UpstreamError(f"Timed out fetching {_redact(current)}.") from exc
            except httpx.HTTPError as exc:
                raise UpstreamError(f"Could not fetch {_redact(current)}: {exc}.") from exc
            try:
                if response.is_redirect:
                    location = response.headers.get("location")
                    if not location:
                        raise UpstreamError("Redirect without a Location header.")
                    current = urljoin(current, location)
                    continue
                if response.status_code >= 400:
                    raise UpstreamError(
                        f"{_redact(current)} answered HTTP {response.status_code}.",
                        status=502,
                    )
                yield response
                return
            finally:
                response.close()
        raise UpstreamError(f"Too many redirects (more than {max_redirects}).")


def _redact(url: str) -> str:
    """A URL fit for an error message: no credentials, no query string (may carry tokens)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"

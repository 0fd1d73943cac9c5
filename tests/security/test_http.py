"""The one outbound client against real servers on 127.0.0.1: the SSRF guard pinned to the
address it checked (DNS rebinding), on every hop, with Host and TLS SNI on the name;
bounded redirects; opt-in retries honouring Retry-After; redaction; size limits."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import numpy as np
import pytest

from callscribe.errors import PayloadTooLarge
from callscribe.security import http
from callscribe.security.http import (
    OutboundClient,
    OutboundTimeout,
    OutboundUnreachable,
    UnsafeURL,
    UpstreamStatus,
)

from .conftest import PUBLIC_IP, Network, Server, reply, self_signed

pytestmark = pytest.mark.usefixtures("outbound_settings")

Serve = Callable[..., Server]


def ok(handler: BaseHTTPRequestHandler) -> None:
    reply(handler, 200, b"internal secret page", {"Content-Type": "text/plain"})


# ------------------------------------------------------------------ DNS rebinding (#1)


def test_a_name_rebinding_to_loopback_after_the_check_never_reaches_loopback(
    serve: Serve, network: Network
) -> None:
    """GIVEN a name that answers a public address on the first lookup and 127.0.0.1 on
    every later one, and an internal service on 127.0.0.1
    WHEN we fetch the name
    THEN it is resolved once, the socket dials the checked public address, and the
    internal service sees nothing."""
    internal = serve({"/secret": ok})
    network.answers["rebind.test"] = [[PUBLIC_IP], ["127.0.0.1"]]
    with pytest.raises(OutboundUnreachable):
        http.request("GET", f"http://rebind.test:{internal.port}/secret")
    assert network.lookups == ["rebind.test"]
    assert network.connects == [(PUBLIC_IP, internal.port)]
    assert internal.requests == []


def test_every_resolved_address_is_checked(serve: Serve, network: Network) -> None:
    internal = serve({"/secret": ok})
    network.answers["mixed.test"] = [[PUBLIC_IP, "127.0.0.1"]]
    with pytest.raises(UnsafeURL) as err:
        http.request("GET", f"http://mixed.test:{internal.port}/secret")
    assert "127.0.0.1" in err.value.message and err.value.status == 400
    assert network.connects == [] and internal.requests == []


def test_the_pinned_connection_keeps_the_host_header(serve: Serve, network: Network) -> None:
    site = serve({"/page": ok})
    network.answers["public.test"] = [[PUBLIC_IP], ["127.0.0.1"]]
    network.nat[PUBLIC_IP] = "127.0.0.1"  # the "public" server is our local one
    response = http.request("GET", f"http://public.test:{site.port}/page")
    assert response.status_code == 200 and response.content == b"internal secret page"
    assert network.connects == [(PUBLIC_IP, site.port)]
    assert site.requests[0]["headers"]["host"] == f"public.test:{site.port}"


def test_tls_sni_and_certificate_checks_stay_on_the_hostname(
    serve: Serve, network: Network, tmp_path: Path
) -> None:
    """The socket is pinned to an IP, but the TLS handshake names the host (SNI) and the
    certificate is verified for it: a self-signed one is refused."""
    site = serve({"/page": ok}, tls=self_signed(tmp_path, "pinned.test"))
    network.answers["pinned.test"] = [[PUBLIC_IP]]
    network.nat[PUBLIC_IP] = "127.0.0.1"
    with pytest.raises(OutboundUnreachable) as err:
        http.request("GET", f"https://pinned.test:{site.port}/page")
    assert "CERTIFICATE_VERIFY_FAILED" in err.value.message
    assert site.sni == ["pinned.test"]
    assert network.connects == [(PUBLIC_IP, site.port)]


def test_a_redirect_hop_to_a_private_address_is_refused(serve: Serve, network: Network) -> None:
    internal = serve({"/secret": ok})
    site = serve(
        {"/start": lambda h: reply(h, 302, headers={"Location": f"{internal.base_url}/secret"})}
    )
    network.answers["public.test"] = [[PUBLIC_IP]]
    network.nat[PUBLIC_IP] = "127.0.0.1"
    with pytest.raises(UnsafeURL), http.stream_get(f"http://public.test:{site.port}/start"):
        pass
    assert [r["path"] for r in site.requests] == ["/start"]
    assert internal.requests == []


def test_a_redirect_to_a_rebinding_name_is_pinned_too(serve: Serve, network: Network) -> None:
    internal = serve({"/secret": ok})
    site = serve(
        {
            "/start": lambda h: reply(
                h, 302, headers={"Location": f"http://rebind.test:{internal.port}/secret"}
            )
        }
    )
    network.answers["public.test"] = [[PUBLIC_IP]]
    network.answers["rebind.test"] = [["8.8.8.8"], ["127.0.0.1"]]
    network.nat[PUBLIC_IP] = "127.0.0.1"
    with (
        pytest.raises(OutboundUnreachable),
        http.stream_get(f"http://public.test:{site.port}/start"),
    ):
        pass
    assert ("8.8.8.8", internal.port) in network.connects
    assert internal.requests == []


# ------------------------------------------------------------------ IPv6 forms (#6)


@pytest.mark.parametrize(
    "address,public",
    [
        ("::127.0.0.1", False),  # IPv4-compatible
        ("::ffff:127.0.0.1", False),  # IPv4-mapped
        ("::ffff:0:127.0.0.1", False),  # IPv4-translated (SIIT)
        ("::ffff:0:10.0.0.1", False),
        ("64:ff9b::127.0.0.1", False),  # NAT64 well-known prefix
        ("64:ff9b::169.254.169.254", False),
        ("64:ff9b:1::a00:1", False),  # local-use NAT64
        ("2002:7f00:1::1", False),  # 6to4 of 127.0.0.1
        ("2002:a9fe:a9fe::1", False),  # 6to4 of 169.254.169.254
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),  # Teredo, client 192.0.2.45
        ("fec0::1", False),  # site-local
        ("fe80::1", False),
        ("::1", False),
        ("::", False),
        ("fd00::1", False),
        ("64:ff9b::8.8.8.8", True),  # NAT64 to a public IPv4 is public
        ("2002:808:808::1", True),  # 6to4 of 8.8.8.8
        ("::ffff:8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("8.8.8.8", True),
        ("100.64.0.1", False),  # shared address space (CGNAT)
    ],
)
def test_ipv6_forms_are_judged_on_the_ipv4_they_embed(address: str, public: bool) -> None:
    import ipaddress

    from callscribe.security.outbound import is_public

    assert is_public(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize(
    "url",
    [
        "http://[::127.0.0.1]/",
        "http://[::ffff:0:127.0.0.1]/",
        "http://[64:ff9b::7f00:1]/",
        "http://[2002:7f00:1::1]/",
        "http://[fec0::1]/",
    ],
)
def test_urls_with_ipv6_forms_of_private_addresses_are_refused(url: str) -> None:
    from callscribe.security.outbound import check_url

    with pytest.raises(UnsafeURL):
        check_url(url)
    with pytest.raises(UnsafeURL):
        http.request("GET", url)


# ------------------------------------------------------------------ AI and speech (#2)


def test_ai_and_speech_endpoints_are_guarded_when_processing(serve: Serve) -> None:
    """An endpoint saved while private URLs were allowed (or one that rebinds later) is
    refused when the request is made, not only when the setting was saved."""
    from callscribe.minutes.analyzers import AnalyzerConfig, get_analyzer
    from callscribe.minutes.schemas import AnalysisContext, TurnIn
    from callscribe.speech.engines import OpenAICompatibleEngine
    from callscribe.speech.service import SpeechConfig

    internal = serve({"/v1/chat/completions": ok, "/v1/audio/transcriptions": ok})
    analyzer = get_analyzer(
        AnalyzerConfig(engine="openai", base_url=f"{internal.base_url}/v1", api_key="sk-x")
    )
    with pytest.raises(UnsafeURL):
        analyzer.analyze([TurnIn(role="agent", text="Hello there.")], AnalysisContext())
    engine = OpenAICompatibleEngine(
        SpeechConfig(engine="openai", base_url=f"{internal.base_url}/v1", api_key="sk-x")
    )
    with pytest.raises(UnsafeURL):
        list(engine.transcribe(np.zeros(1600, dtype=np.float32)))
    assert internal.requests == []


@pytest.mark.usefixtures("allow_private")
def test_an_internal_failure_body_is_never_echoed() -> None:
    request = httpx.Request("POST", "http://x/")
    for status, body in [
        (500, b"Traceback: db password=hunter2"),
        (404, b"<html>internal admin</html>"),
        (502, json.dumps({"error": {"message": "upstream db at 10.0.0.5 down"}}).encode()),
    ]:
        response = httpx.Response(status, content=body, request=request)
        assert http.error_detail(response) is None
    bad_key = httpx.Response(
        401, json={"error": {"message": "Incorrect API key provided"}}, request=request
    )
    assert http.error_detail(bad_key) == "Incorrect API key provided"


# ------------------------------------------------------------------ redirects, retries


@pytest.mark.usefixtures("allow_private")
def test_redirects_are_followed_only_when_asked_and_bounded(serve: Serve) -> None:
    site: Server

    def loop(handler: BaseHTTPRequestHandler) -> None:
        reply(handler, 302, headers={"Location": "/loop"})

    site = serve({"/loop": loop, "/once": lambda h: reply(h, 301, headers={"Location": "/ok"})})
    site.routes["/ok"] = ok
    assert http.request("GET", f"{site.base_url}/once").status_code == 301
    assert http.request("GET", f"{site.base_url}/once", follow_redirects=True).status_code == 200
    site.requests.clear()
    with OutboundClient(max_redirects=3) as client, pytest.raises(http.UpstreamError) as err:
        client.request("GET", f"{site.base_url}/loop", follow_redirects=True)
    assert "Too many redirects" in err.value.message
    assert len(site.requests) == 4  # the first request and three hops


@pytest.mark.usefixtures("allow_private")
def test_credentials_are_not_sent_to_another_origin(serve: Serve) -> None:
    other = serve({"/file": ok})
    site = serve(
        {"/start": lambda h: reply(h, 302, headers={"Location": f"{other.base_url}/file"})}
    )
    headers = {"Authorization": "Bearer sk-secret", "X-Trace": "1"}
    with http.stream_get(f"{site.base_url}/start", headers=headers) as response:
        assert response.status_code == 200
    assert site.requests[0]["headers"]["authorization"] == "Bearer sk-secret"
    assert "authorization" not in other.requests[0]["headers"]
    assert other.requests[0]["headers"]["x-trace"] == "1"


@pytest.mark.usefixtures("allow_private")
def test_retries_are_opt_in_and_honour_retry_after(serve: Serve) -> None:
    answers: list[int] = []

    def flaky(handler: BaseHTTPRequestHandler) -> None:
        answers.append(1)
        if len(answers) % 2:
            reply(handler, 503, b"busy", {"Retry-After": "1"})
        else:
            reply(handler, 200, b"done")

    site = serve({"/flaky": flaky})
    assert http.request("GET", f"{site.base_url}/flaky").status_code == 503  # no retry
    assert len(site.requests) == 1
    answers.clear()
    site.requests.clear()
    started = time.monotonic()
    response = http.request("GET", f"{site.base_url}/flaky", retries=2)
    assert response.status_code == 200 and response.content == b"done"
    assert time.monotonic() - started >= 0.9  # waited the Retry-After second
    assert len(site.requests) == 2


@pytest.mark.usefixtures("allow_private")
def test_retries_give_up_with_the_last_answer(serve: Serve) -> None:
    site = serve({"/down": lambda h: reply(h, 503, b"", {"Retry-After": "0"})})
    with OutboundClient(backoff_cap_s=0.01) as client:
        assert client.request("GET", f"{site.base_url}/down", retries=2).status_code == 503
    assert len(site.requests) == 3


def test_retry_after_parses_seconds_and_dates() -> None:
    assert http.parse_retry_after("3") == 3.0
    assert http.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470) == 10.0
    assert http.parse_retry_after("soon") is None and http.parse_retry_after(None) is None
    assert http.parse_retry_after("-1") is None


# ------------------------------------------------------------------ timeouts, redaction


@pytest.mark.usefixtures("allow_private")
def test_a_slow_server_times_out(serve: Serve) -> None:
    def slow(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(1.5)
        reply(handler, 200, b"late")

    site = serve({"/slow": slow})
    with pytest.raises(OutboundTimeout) as err:
        http.request("GET", f"{site.base_url}/slow?token=abc", timeout=0.3)
    assert err.value.code == "upstream_error" and "abc" not in err.value.message


@pytest.mark.usefixtures("allow_private")
def test_errors_carry_no_credentials_query_or_secret() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://user:pa55word@127.0.0.1:{port}/hook?token=t0ken-value"
    with pytest.raises(OutboundUnreachable) as err:
        http.request("GET", url, secrets=["t0ken-value", "pa55word"])
    message = err.value.message
    assert f"127.0.0.1:{port}/hook" in message
    for secret in ("pa55word", "t0ken-value", "user:"):
        assert secret not in message


# ------------------------------------------------------------------ downloads


class Sink:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, chunk: bytes) -> None:
        self.data += chunk


@pytest.mark.usefixtures("allow_private")
def test_download_streams_into_the_sink_with_a_size_limit(serve: Serve) -> None:
    blob = bytes(range(256)) * 8192  # 2 MiB
    site = serve(
        {
            "/sized": lambda h: reply(h, 200, blob),
            "/unsized": lambda h: reply(h, 200, blob, length=False),
            "/gone": lambda h: reply(h, 410, b"internal body"),
        }
    )
    sink = Sink()
    with OutboundClient() as client:
        assert client.download(f"{site.base_url}/sized", sink) == len(blob)
        assert bytes(sink.data) == blob
        with pytest.raises(PayloadTooLarge):  # refused on Content-Length
            client.download(f"{site.base_url}/sized", Sink(), max_bytes=1024 * 1024)
        partial = Sink()
        with pytest.raises(PayloadTooLarge):  # refused as the bytes arrive
            client.download(f"{site.base_url}/unsized", partial, max_bytes=1024 * 1024)
        assert len(partial.data) <= 1024 * 1024
        with pytest.raises(UpstreamStatus) as err:
            client.download(f"{site.base_url}/gone", Sink())
    assert err.value.http_status == 410 and "internal body" not in err.value.message


@pytest.mark.usefixtures("allow_private")
def test_request_bounds_the_body_it_reads(serve: Serve) -> None:
    site = serve({"/big": lambda h: reply(h, 200, b"x" * 4096, length=False)})
    with OutboundClient() as client, pytest.raises(http.UpstreamError) as err:
        client.request("GET", f"{site.base_url}/big", max_bytes=1000)
    assert "more than 1000 bytes" in err.value.message


@pytest.mark.usefixtures("allow_private")
def test_allowing_private_urls_reaches_loopback(serve: Serve) -> None:
    site = serve({"/page": ok})
    assert http.request("GET", f"{site.base_url}/page").content == b"internal secret page"


def test_loopback_is_refused_by_default(serve: Serve) -> None:
    site = serve({"/page": ok})
    with pytest.raises(UnsafeURL) as err:
        http.request("GET", f"{site.base_url}/page")
    assert "CALLSCRIBE_ALLOW_PRIVATE_URLS" in err.value.message
    assert site.requests == []

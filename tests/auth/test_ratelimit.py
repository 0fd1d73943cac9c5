"""Rate limits on credential checks (issue 17 #12), against real servers: X-Forwarded-For
is believed only from CALLSCRIBE_TRUSTED_PROXIES, the counters live where every process
sees them (the database, or Redis), and the OAuth token endpoint and bad API keys are
limited like sign-ins (429 with Retry-After)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import (
    CompanyCtx,
    LiveServer,
    free_port,
    start_serve,
    start_uvicorn,
    stop_uvicorn,
)
from tests.web.conftest import PASSWORD, create_user, csrf_from

StartServer = Callable[..., LiveServer]


@pytest.fixture
def start_server(app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[StartServer]:
    """Start API servers (no consumer) on the test's database with extra settings."""
    from callscribe.app import create_app
    from callscribe.settings import reset_settings

    started: list[LiveServer] = []

    def start(**env: str) -> LiveServer:
        for key, value in env.items():
            monkeypatch.setenv(f"CALLSCRIBE_{key}", value)
        reset_settings()
        live = start_uvicorn(create_app(embedded_worker=False))
        started.append(live)
        return live

    yield start
    for live in started:
        stop_uvicorn(live)


def login(client: httpx.Client, email: str, password: str, xff: str | None = None) -> int:
    token = csrf_from(client.get("/login").text)
    headers = {"X-Forwarded-For": xff} if xff else {}
    answer = client.post(
        "/login",
        data={"csrf_token": token, "email": email, "password": password},
        headers=headers,
    )
    return answer.status_code


def test_rotating_x_forwarded_for_from_an_untrusted_peer_does_not_bypass_the_login_limit(
    start_server: StartServer, company: CompanyCtx
) -> None:
    """GIVEN no trusted proxy (the default) WHEN ten wrong passwords come, each claiming
    another X-Forwarded-For THEN the right password from yet another claimed address is
    still refused with 429: the limit counts the TCP peer."""
    create_user(company.id, "ann@acme.test", "admin")
    server = start_server()
    with httpx.Client(base_url=server.url, follow_redirects=False) as c:
        for i in range(10):
            assert login(c, "ann@acme.test", "nope", xff=f"198.51.100.{i}") == 401
        token = csrf_from(c.get("/login").text)
        limited = c.post(
            "/login",
            data={"csrf_token": token, "email": "ann@acme.test", "password": PASSWORD},
            headers={"X-Forwarded-For": "198.51.100.200"},
        )
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0


def test_a_trusted_proxys_forwarded_address_is_the_client(
    start_server: StartServer, company: CompanyCtx
) -> None:
    """GIVEN 127.0.0.1 is a configured proxy WHEN one forwarded client fails ten times
    THEN that client is limited, another client behind the same proxy is not, and the
    session records the forwarded address."""
    from sqlalchemy import select

    from callscribe.auth.models import UserSession
    from callscribe.db import session_scope

    create_user(company.id, "ann@acme.test", "admin")
    server = start_server(TRUSTED_PROXIES="127.0.0.1/32")
    with httpx.Client(base_url=server.url, follow_redirects=False) as c:
        for _ in range(10):
            assert login(c, "ann@acme.test", "nope", xff="203.0.113.5") == 401
        assert login(c, "ann@acme.test", PASSWORD, xff="203.0.113.5") == 429
        # the proxy appends the peer it saw; a client's own claim to its left is ignored
        assert login(c, "ann@acme.test", PASSWORD, xff="203.0.113.5, 203.0.113.6") == 303
    with session_scope() as s:
        ips = s.scalars(select(UserSession.ip)).all()
    assert ips == ["203.0.113.6"]


def test_two_server_processes_share_the_login_counter(
    start_server: StartServer, app_env: dict[str, str], company: CompanyCtx, tmp_path: Path
) -> None:
    """GIVEN this process's server and a `callscribe serve` process on the same database
    WHEN the ten failures are split between them THEN both refuse the eleventh try."""
    create_user(company.id, "ann@acme.test", "admin")
    here = start_server()
    port = free_port()
    proc = start_serve(app_env, port, tmp_path / "serve.log", "--no-worker")
    try:
        with (
            httpx.Client(base_url=here.url, follow_redirects=False) as a,
            httpx.Client(base_url=f"http://127.0.0.1:{port}", follow_redirects=False) as b,
        ):
            for i in range(10):
                assert login(a if i % 2 else b, "ann@acme.test", "nope") == 401
            assert login(a, "ann@acme.test", PASSWORD) == 429
            assert login(b, "ann@acme.test", PASSWORD) == 429
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _new_oauth_app(client: httpx.Client, company: CompanyCtx) -> dict:
    created = client.post("/api/oauth/apps", json={"name": "Dialer"}, headers=company.headers)
    assert created.status_code == 201, created.text
    return created.json()


def _token(client: httpx.Client, client_id: str, secret: str) -> httpx.Response:
    return client.post(
        "/api/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
        headers={"X-Forwarded-For": f"198.51.100.{uuid.uuid4().int % 250}"},
    )


def test_the_oauth_token_endpoint_is_rate_limited(
    start_server: StartServer, company: CompanyCtx
) -> None:
    server = start_server(LOGIN_MAX_FAILURES="3")
    with server.client() as c:
        app = _new_oauth_app(c, company)
        for _ in range(3):
            assert _token(c, app["clientId"], "cssec_wrong").status_code == 401
        limited = _token(c, app["clientId"], app["clientSecret"])
        assert limited.status_code == 429, limited.text
        assert int(limited.headers["retry-after"]) > 0
        assert limited.json()["error"]["code"] == "rate_limited"
        assert "Too many failed token requests" in limited.json()["error"]["message"]
        # another app's client id from the same address still gets its token
        other = _new_oauth_app(c, company)
        assert _token(c, other["clientId"], other["clientSecret"]).status_code == 200


def test_bad_api_keys_are_rate_limited_per_address(
    start_server: StartServer, company: CompanyCtx
) -> None:
    """GIVEN a budget of 5 bad credentials per address WHEN the sixth bad key comes (each
    claiming another X-Forwarded-For) THEN it gets 429 with Retry-After; an unknown OAuth
    token counts against the same budget; a good key still works (counted only on
    failure: no lock-out of a good integration behind the same NAT)."""
    server = start_server(BAD_CREDENTIALS_MAX="5")
    with server.client() as c:
        for i in range(5):
            bad = c.get(
                "/api/calls",
                headers={"Authorization": f"Bearer cs_wrong{i}", "X-Forwarded-For": f"10.9.{i}.1"},
            )
            assert bad.status_code == 401
        limited = c.get("/api/calls", headers={"Authorization": "Bearer cs_wrong_again"})
        assert limited.status_code == 429, limited.text
        assert int(limited.headers["retry-after"]) > 0
        assert limited.json()["error"]["code"] == "rate_limited"
        assert c.get("/api/calls", headers={"Authorization": "Bearer csat_x"}).status_code == 429
        assert c.get("/api/calls", headers=company.headers).status_code == 200


def _concurrent_increments(threads: int, each: int) -> int:
    from callscribe.auth import ratelimit

    limit = ratelimit.Limit("test", 10_000, 3600)
    now = time.time()

    def work() -> None:
        for _ in range(each):
            ratelimit.record_failure([(limit, ("203.0.113.9",))], now=now)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    start, _end = limit.window(now)
    return ratelimit.counter_store().hits(limit.key("203.0.113.9"), start)


def test_concurrent_failures_are_all_counted_in_the_database(app_env: dict[str, str]) -> None:
    assert _concurrent_increments(threads=8, each=25) == 200


def test_concurrent_failures_are_all_counted_in_redis(
    app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import redis

    from callscribe.settings import reset_settings

    url = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url).ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    monkeypatch.setenv("CALLSCRIBE_REDIS_URL", url)
    monkeypatch.setenv("CALLSCRIBE_QUEUE_NAME", f"test-{uuid.uuid4().hex[:8]}")
    reset_settings()
    try:
        assert _concurrent_increments(threads=8, each=25) == 200
    finally:
        from callscribe.auth import ratelimit

        ratelimit.clear(ratelimit.Limit("test", 10_000, 3600), "203.0.113.9")

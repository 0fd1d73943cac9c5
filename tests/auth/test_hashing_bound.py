"""At most PASSWORD_HASH_CONCURRENCY argon2 hashes run at once, however many failed
sign-ins arrive together (issue 17 #18: 64 MiB each); the rest wait for a slot."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.conftest import CompanyCtx, LiveServer
from tests.web.conftest import (
    create_user,
    csrf_from,
)

LIMIT = 2


@pytest.fixture
def bounded(monkeypatch: pytest.MonkeyPatch, app_env: dict[str, str]) -> None:
    from callscribe.settings import reset_settings

    monkeypatch.setenv("CALLSCRIBE_PASSWORD_HASH_CONCURRENCY", str(LIMIT))
    monkeypatch.setenv("CALLSCRIBE_PASSWORD_HASH_WAIT_S", "120")
    reset_settings()


def test_concurrent_failed_logins_hash_at_most_n_at_once(
    bounded: None, api_server: LiveServer, company: CompanyCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN a server allowing 2 hashes at once and a verify_password that counts how many
    run together WHEN 16 wrong-password sign-ins arrive at once THEN never more than 2 ran
    together, and every one was answered 401."""
    from callscribe.security import crypto

    create_user(company.id, "ann@acme.test", "admin")
    real = crypto.verify_password
    lock = threading.Lock()
    running, peak = [0], [0]

    def counting(password: str, password_hash: str | None) -> Any:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        try:
            return real(password, password_hash)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(crypto, "verify_password", counting)

    def attempt(n: int) -> int:
        with httpx.Client(base_url=api_server.url, timeout=120) as c:
            csrf = csrf_from(c.get("/login").text)
            r = c.post(
                "/login",
                data={"csrf_token": csrf, "email": f"u{n}@acme.test", "password": "wrong pass"},
            )
            return r.status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(attempt, range(16)))
    assert statuses == [401] * 16
    assert 1 <= peak[0] <= LIMIT, peak[0]

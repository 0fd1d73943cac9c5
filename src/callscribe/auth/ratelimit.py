"""Rate limits on credential checks (issue 17 #12): failed sign-ins, bad API keys and
OAuth tokens, and the OAuth token endpoint.

Counters are fixed windows of RATE_LIMIT_WINDOW_S kept where every process sees them:
the database (`rate_limit_counters`, one atomic upsert per failure, on SQLite and
PostgreSQL), or Redis when CALLSCRIBE_REDIS_URL is set. A limited caller gets 429 with
Retry-After (seconds to the end of the window). The address is the TCP peer unless the
peer is one of CALLSCRIBE_TRUSTED_PROXIES (app.py applies X-Forwarded-For only then), so
rotating X-Forwarded-For buys nothing. Keys are hashes: no address or email is stored."""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from callscribe.auth.models import RateLimitCounter
from callscribe.db import get_engine
from callscribe.errors import CallscribeError, ErrorCode, RateLimited
from callscribe.settings import get_settings

CLEANUP_CHANCE = 0.01  # one failure in a hundred also deletes expired counters


class CounterStore(Protocol):
    def hits(self, key: str, window_start: int) -> int: ...

    def incr(self, key: str, window_start: int, expires_at: int) -> int:
        """Add one hit and return the new count (atomic across processes)."""
        ...

    def clear(self, key: str) -> None: ...


class DbCounters:
    """Counters in `rate_limit_counters`. Each call is its own short transaction on its
    own connection, so a counter survives the request's rollback."""

    def hits(self, key: str, window_start: int) -> int:
        with get_engine().connect() as conn:
            found = conn.execute(
                select(RateLimitCounter.hits).where(
                    RateLimitCounter.key == key, RateLimitCounter.window_start == window_start
                )
            ).scalar()
        return int(found or 0)

    def incr(self, key: str, window_start: int, expires_at: int) -> int:
        engine = get_engine()
        dialect: Any = postgresql if engine.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(RateLimitCounter).values(
            key=key, window_start=window_start, hits=1, expires_at=expires_at
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[RateLimitCounter.key, RateLimitCounter.window_start],
            set_={"hits": RateLimitCounter.hits + 1},
        ).returning(RateLimitCounter.hits)
        with engine.begin() as conn:
            count = int(conn.execute(stmt).scalar_one())
            if random.random() < CLEANUP_CHANCE:
                conn.execute(
                    delete(RateLimitCounter).where(RateLimitCounter.expires_at < int(time.time()))
                )
        return count

    def clear(self, key: str) -> None:
        with get_engine().begin() as conn:
            conn.execute(delete(RateLimitCounter).where(RateLimitCounter.key == key))


class RedisCounters:
    """Counters in Redis (INCR + EXPIRE), under the install's queue name."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url)
        self._prefix = f"{prefix}:ratelimit:"

    def _name(self, key: str, window_start: int) -> str:
        return f"{self._prefix}{key}:{window_start}"

    def hits(self, key: str, window_start: int) -> int:
        value = self._redis.get(self._name(key, window_start))
        return int(value) if value else 0  # type: ignore[arg-type]

    def incr(self, key: str, window_start: int, expires_at: int) -> int:
        name = self._name(key, window_start)
        pipe = self._redis.pipeline()
        pipe.incr(name)
        pipe.expireat(name, expires_at + 1)
        count, _ = pipe.execute()
        return int(count)

    def clear(self, key: str) -> None:
        names = list(self._redis.scan_iter(f"{self._prefix}{key}:*"))
        if names:
            self._redis.delete(*names)


@lru_cache
def _store_for(redis_url: str | None, prefix: str) -> CounterStore:
    return RedisCounters(redis_url, prefix) if redis_url else DbCounters()


def counter_store() -> CounterStore:
    settings = get_settings()
    return _store_for(settings.REDIS_URL, settings.QUEUE_NAME)


@dataclass(frozen=True)
class Limit:
    """At most `max_hits` failures per subject within one window of `window_s`."""

    name: str
    max_hits: int
    window_s: int

    def key(self, *subject: str) -> str:
        digest = hashlib.sha256("\x00".join(subject).encode("utf-8", "replace")).hexdigest()
        return f"{self.name}:{digest[:64]}"

    def window(self, now: float) -> tuple[int, int]:
        start = int(now // self.window_s) * self.window_s
        return start, start + self.window_s


Check = tuple[Limit, tuple[str, ...]]


def retry_after(checks: list[Check], now: float | None = None, *, past: bool = False) -> int:
    """Seconds until the first of `checks` that is exhausted allows another attempt; 0
    when every one allows it now. `past`: exhausted only beyond the limit (asked right
    after recording the failure being judged)."""
    now = time.time() if now is None else now
    store = counter_store()
    waits = []
    for limit, subject in checks:
        start, end = limit.window(now)
        if store.hits(limit.key(*subject), start) >= limit.max_hits + (1 if past else 0):
            waits.append(max(1, int(end - now) + 1))
    return max(waits, default=0)


def record_failure(checks: list[Check], now: float | None = None) -> None:
    now = time.time() if now is None else now
    store = counter_store()
    for limit, subject in checks:
        start, end = limit.window(now)
        store.incr(limit.key(*subject), start, end)


def clear(limit: Limit, *subject: str) -> None:
    counter_store().clear(limit.key(*subject))


def raise_if_limited(checks: list[Check], message: str, *, past: bool = False) -> None:
    wait = retry_after(checks, past=past)
    if wait:
        raise TooManyAttempts(f"{message} Try again in {wait} s.", retry_after_s=wait)


class TooManyAttempts(RateLimited):
    """429 with Retry-After: too many failed credential checks from this address."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


# -- the limits --------------------------------------------------------------------------


def _window() -> int:
    return max(1, int(get_settings().RATE_LIMIT_WINDOW_S))


def login_limits(ip: str, email: str) -> list[Check]:
    """LOGIN_MAX_FAILURES per (address, email), 5x that per address (many emails)."""
    most = get_settings().LOGIN_MAX_FAILURES
    return [
        (Limit("login", most, _window()), (ip, email.lower())),
        (Limit("login-ip", most * 5, _window()), (ip,)),
    ]


def credential_limits(ip: str) -> list[Check]:
    """Bad API keys, OAuth tokens and OAuth client secrets from one address."""
    return [(Limit("credentials", get_settings().BAD_CREDENTIALS_MAX, _window()), (ip,))]


def oauth_client_limits(ip: str, client_id: str) -> list[Check]:
    """The token endpoint: LOGIN_MAX_FAILURES per (address, client id), plus the
    address's bad-credential budget."""
    most = get_settings().LOGIN_MAX_FAILURES
    return [(Limit("oauth-client", most, _window()), (ip, client_id)), *credential_limits(ip)]


class LoginRateLimiter:
    """Failed sign-ins per (client address, email) and per address."""

    def retry_after(self, ip: str, email: str, now: float | None = None) -> int:
        return retry_after(login_limits(ip, email), now)

    def failed(self, ip: str, email: str, now: float | None = None) -> None:
        record_failure(login_limits(ip, email), now)

    def succeeded(self, ip: str, email: str) -> None:
        limit, subject = login_limits(ip, email)[0]
        clear(limit, *subject)


login_limiter = LoginRateLimiter()


# -- bounded password hashing ------------------------------------------------------------


class HashingBusy(CallscribeError):
    """Every password-hashing slot stayed taken for the whole wait: answer 503 fast
    rather than let a burst of sign-ins take 64 MiB of memory each."""

    code: str = ErrorCode.BUSY
    status = 503
    retry_after_s = 5


@lru_cache
def _hash_slots(size: int) -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(max(1, size))


@contextmanager
def password_hash_slot() -> Iterator[None]:
    """Hold one of PASSWORD_HASH_CONCURRENCY slots while argon2 runs (each hash takes
    64 MiB); a request waits up to PASSWORD_HASH_WAIT_S for one, then gets HashingBusy."""
    settings = get_settings()
    slots = _hash_slots(settings.PASSWORD_HASH_CONCURRENCY)
    if not slots.acquire(timeout=settings.PASSWORD_HASH_WAIT_S):
        raise HashingBusy("The server is busy signing people in. Try again in a few seconds.")
    try:
        yield
    finally:
        slots.release()

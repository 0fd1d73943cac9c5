"""The login rate limit."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from callscribe.errors import CallscribeError, ErrorCode
from callscribe.settings import get_settings


class LoginRateLimiter:
    """At most `max_failures` failed sign-ins per (client address, email) within
    `window_s`, and 5x that per address alone (many emails from one place). Kept in the
    process: a restart forgets it, which only ever lets a user in sooner."""

    def __init__(self, max_failures: int = 10, window_s: float = 300):
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[Any, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: Any, now: float) -> deque[float]:
        q = self._failures.setdefault(key, deque())
        while q and q[0] <= now - self.window_s:
            q.popleft()
        return q

    def retry_after(self, ip: str, email: str, now: float | None = None) -> int:
        """Seconds until another attempt is allowed; 0 when it is allowed now."""
        now = time.monotonic() if now is None else now
        with self._lock:
            waits = []
            limits = (((ip, email.lower()), self.max_failures), (ip, self.max_failures * 5))
            for key, limit in limits:
                q = self._recent(key, now)
                if len(q) >= limit:
                    waits.append(int(q[0] + self.window_s - now) + 1)
            return max(waits, default=0)

    def failed(self, ip: str, email: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            for key in ((ip, email.lower()), ip):
                self._recent(key, now).append(now)
            if len(self._failures) > 50_000:  # bounded memory under a spray
                for key in [k for k, q in self._failures.items() if not q]:
                    del self._failures[key]

    def succeeded(self, ip: str, email: str) -> None:
        with self._lock:
            self._failures.pop((ip, email.lower()), None)

    def reset(self) -> None:
        with self._lock:
            self._failures.clear()


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

"""The login rate limit."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any


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

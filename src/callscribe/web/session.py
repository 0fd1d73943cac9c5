"""Browser sessions: a signed session cookie, CSRF tokens, flash messages, the login rate
limit, and the cookie resolver that lets the JSON API serve the browser.

The session cookie (`cs_session`, HttpOnly, SameSite=Lax, Secure over HTTPS) is an
itsdangerous-signed payload `{"s": session token or null, "c": csrf token, "p": password
fingerprint}`. The token names a row of `user_sessions` (stored hashed), so signing out
ends the session on the server, not only in this browser; a deactivated user or a new
password ends it too. Every visitor gets a cookie on their first page, so anonymous forms
(setup, login) carry a CSRF token as well.

CSRF: every unsafe request that relies on the cookie must send the session's token, as
the `csrf_token` form field or the `X-CSRF-Token` header (htmx sends the header from the
layout's `hx-headers`).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from fastapi import HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session
from starlette.responses import Response

from callscribe.accounts import service as accounts
from callscribe.accounts.models import Company, User
from callscribe.accounts.service import Principal
from callscribe.db import session_scope
from callscribe.errors import Forbidden
from callscribe.security.crypto import constant_time_equals, secret_key
from callscribe.settings import get_settings

SESSION_COOKIE = "cs_session"
FLASH_COOKIE = "cs_flash"
SESSION_MAX_AGE_S = 14 * 24 * 3600  # sign in again after two weeks
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# An agent whose user has no linked agent record sees no calls: an id that matches none.
NO_AGENT = uuid.UUID(int=0)


# -- the signed cookie -------------------------------------------------------------------


@lru_cache
def _serializer_for(key: str) -> URLSafeTimedSerializer:
    derived = hashlib.sha256(b"callscribe-web-session:" + key.encode()).hexdigest()
    return URLSafeTimedSerializer(derived, salt="callscribe.session")


def _serializer() -> URLSafeTimedSerializer:
    return _serializer_for(secret_key())


@dataclass
class BrowserSession:
    """What the cookie holds: the server session's token (None: not signed in), the CSRF
    token and the password fingerprint."""

    token: str | None
    csrf: str
    pw: str = ""
    changed: bool = False  # must be (re)written to the cookie
    cleared: bool = False

    def dump(self) -> str:
        return _serializer().dumps({"s": self.token, "c": self.csrf, "p": self.pw})


def _new_session() -> BrowserSession:
    return BrowserSession(token=None, csrf=secrets.token_urlsafe(32), changed=True)


def load_session(request: Request) -> BrowserSession:
    """The request's session (cached on the request); a new anonymous one when the cookie
    is missing, expired or forged."""
    cached = getattr(request.state, "web_session", None)
    if cached is not None:
        return cached
    ws = None
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        try:
            data = _serializer().loads(raw, max_age=SESSION_MAX_AGE_S)
            token = data.get("s") if isinstance(data.get("s"), str) else None
            if isinstance(data.get("c"), str) and len(data["c"]) >= 20:
                ws = BrowserSession(token=token, csrf=data["c"], pw=data.get("p") or "")
        except (BadSignature, AttributeError, KeyError, TypeError, ValueError):
            ws = None
    if ws is None:
        ws = _new_session()
    request.state.web_session = ws
    return ws


def password_fingerprint(user: User) -> str:
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:16]


def start_user_session(request: Request, session: Session, user: User) -> BrowserSession:
    """Sign `user` in: a new server session and a new CSRF token (no fixation). The
    caller commits."""
    ws = _new_session()
    ws.token = accounts.open_user_session(
        session, user, ip=client_ip(request), user_agent=request.headers.get("user-agent")
    )
    ws.pw = password_fingerprint(user)
    request.state.web_session = ws
    request.state.current_user = None
    request.state.current_user_loaded = False
    return ws


def end_session(request: Request, session: Session) -> None:
    """Sign out: the server session is revoked and the cookie replaced. The caller
    commits."""
    accounts.close_user_session(session, load_session(request).token)
    ws = _new_session()
    ws.cleared = True
    request.state.web_session = ws
    request.state.current_user = None
    request.state.current_user_loaded = False


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or get_settings().public_url.startswith("https://")


def write_cookies(request: Request, response: Response) -> Response:
    """Write the session cookie when it changed, and pending flash messages."""
    ws = load_session(request)
    if ws.changed or ws.cleared:
        response.set_cookie(
            SESSION_COOKIE,
            ws.dump(),
            max_age=SESSION_MAX_AGE_S,
            httponly=True,
            samesite="lax",
            secure=_secure(request),
            path="/",
        )
        ws.changed = ws.cleared = False
    pending = getattr(request.state, "flashes_out", None)
    if pending:
        response.set_cookie(
            FLASH_COOKIE,
            _serializer().dumps(pending[-5:]),
            max_age=300,
            httponly=True,
            samesite="lax",
            secure=_secure(request),
            path="/",
        )
        request.state.flashes_out = []
    elif getattr(request.state, "flashes_read", False):
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


# -- flash messages ----------------------------------------------------------------------


def flash(request: Request, message: str, level: str = "success") -> None:
    """Show `message` on the next rendered page (level: success, info, warning, error)."""
    pending = getattr(request.state, "flashes_out", None)
    if pending is None:
        pending = request.state.flashes_out = []
    pending.append([level, message])


def pop_flashes(request: Request) -> list[dict[str, str]]:
    raw = request.cookies.get(FLASH_COOKIE)
    out: list[dict[str, str]] = []
    if raw and not getattr(request.state, "flashes_read", False):
        request.state.flashes_read = True
        try:
            for level, message in _serializer().loads(raw, max_age=300):
                out.append({"level": str(level), "message": str(message)})
        except (BadSignature, TypeError, ValueError):
            pass
    # messages flashed during this request and rendered right away
    for level, message in getattr(request.state, "flashes_out", None) or []:
        out.append({"level": level, "message": message})
    request.state.flashes_out = []
    return out


# -- CSRF --------------------------------------------------------------------------------


def csrf_token(request: Request) -> str:
    return load_session(request).csrf


def csrf_ok(request: Request, submitted: str | None) -> bool:
    if not submitted or not request.cookies.get(SESSION_COOKIE):
        return False
    return constant_time_equals(load_session(request).csrf, submitted)


async def verify_csrf(request: Request) -> None:
    """For unsafe methods: the X-CSRF-Token header or the csrf_token form field must carry
    the session's token. Raises 403 otherwise. (FastAPI caches the parsed form, so the
    view can still read its fields.)"""
    if request.method in SAFE_METHODS:
        return
    submitted = request.headers.get(CSRF_HEADER)
    if not submitted:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            submitted = value if isinstance(value, str) else None
    if not csrf_ok(request, submitted):
        raise HTTPException(
            status_code=403,
            detail="The form's security token is missing or expired. Reload the page and "
            "try again.",
        )


# -- the signed-in user ------------------------------------------------------------------


@dataclass(frozen=True)
class CurrentUser:
    """The signed-in user, as views and templates need it."""

    id: uuid.UUID
    email: str
    name: str
    role: str  # admin | manager | reviewer | agent
    company_id: uuid.UUID
    company_name: str
    is_platform_admin: bool
    agent_id: uuid.UUID | None
    principal: Principal = field(repr=False)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def principal_for(user: User) -> Principal:
    agent_id = user.agent_id
    if user.role == "agent" and agent_id is None:
        agent_id = NO_AGENT
    return Principal(company_id=user.company_id, role=user.role, user_id=user.id, agent_id=agent_id)


def user_from_session(request: Request, session: Session) -> CurrentUser | None:
    ws = load_session(request)
    if ws.token is None:
        return None
    user = accounts.user_for_session_token(session, ws.token)
    if user is None or not constant_time_equals(password_fingerprint(user), ws.pw):
        return None
    company = session.get(Company, user.company_id)
    return CurrentUser(
        id=user.id,
        email=user.email,
        name=user.name,
        role=user.role,
        company_id=user.company_id,
        company_name=company.name if company else "",
        is_platform_admin=user.is_platform_admin,
        agent_id=user.agent_id,
        principal=principal_for(user),
    )


def _load_current_user(request: Request) -> CurrentUser | None:
    with session_scope() as session:  # commits the session's last_seen_at
        return user_from_session(request, session)


async def current_user(request: Request) -> CurrentUser | None:
    """The signed-in user or None (cached on the request)."""
    if getattr(request.state, "current_user_loaded", False):
        return request.state.current_user
    user = None
    if load_session(request).token is not None:
        user = await run_in_threadpool(_load_current_user, request)
    request.state.current_user = user
    request.state.current_user_loaded = True
    return user


def _login_redirect(request: Request) -> HTTPException:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = f"/login?next={quote(target, safe='')}"
    if request.headers.get("hx-request"):
        return HTTPException(status_code=401, detail="Sign in.", headers={"HX-Redirect": location})
    return HTTPException(status_code=303, detail="Sign in.", headers={"Location": location})


async def require_user(request: Request) -> CurrentUser:
    """Dependency for pages: the signed-in user, else a redirect to /login. On unsafe
    methods it also checks the CSRF token, so every form behind it is protected."""
    await verify_csrf(request)
    user = await current_user(request)
    if user is None:
        raise _login_redirect(request)
    return user


async def require_admin(request: Request) -> CurrentUser:
    user = await require_user(request)
    if user.role != "admin":
        raise HTTPException(status_code=403, detail="Only admins can open this page.")
    return user


async def require_manager(request: Request) -> CurrentUser:
    """Admins and managers."""
    user = await require_user(request)
    if user.role not in ("admin", "manager"):
        raise HTTPException(status_code=403, detail="Only admins and managers can do this.")
    return user


# -- the JSON API from the browser -------------------------------------------------------


def cookie_principal(request: Request, session: Session) -> Principal | None:
    """PRINCIPAL_RESOLVERS entry: the session cookie's user. Unsafe methods must carry
    the X-CSRF-Token header, or the request is refused (a cross-site form cannot)."""
    if not request.cookies.get(SESSION_COOKIE):
        return None
    user = user_from_session(request, session)
    if user is None:
        return None
    if request.method not in SAFE_METHODS and not csrf_ok(
        request, request.headers.get(CSRF_HEADER)
    ):
        raise Forbidden(
            "Requests signed in by the session cookie need the X-CSRF-Token header.",
            code="csrf_failed",
        )
    return user.principal


def register_cookie_resolver() -> None:
    from callscribe.web import deps

    if cookie_principal not in deps.PRINCIPAL_RESOLVERS:
        deps.PRINCIPAL_RESOLVERS.append(cookie_principal)


# -- login rate limit --------------------------------------------------------------------


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


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


register_cookie_resolver()

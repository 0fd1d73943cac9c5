"""Browser sessions: the server-side rows (`user_sessions`) and the signed cookie that
names one.

The session cookie (`cs_session`, HttpOnly, SameSite=Lax, Secure over HTTPS) is an
itsdangerous-signed payload `{"s": session token or null, "c": csrf token, "p": password
fingerprint}`. The token names a row of `user_sessions` (stored hashed), so signing out
ends the session on the server, not only in this browser; a deactivated user or a new
password ends it too. Every visitor gets a cookie on their first page, so anonymous forms
(setup, login) carry a CSRF token as well.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Protocol

from fastapi import Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from callscribe.auth.models import UserSession
from callscribe.db import utcnow
from callscribe.security.crypto import new_token, secret_key, sha256_hex
from callscribe.settings import get_settings

SESSION_COOKIE = "cs_session"
SESSION_MAX_AGE_S = 14 * 24 * 3600  # sign in again after two weeks
SESSION_TTL_S = SESSION_MAX_AGE_S
SESSION_TOUCH_S = 60  # last_seen_at is written at most once a minute per session


class SignInUser(Protocol):
    """What signing in needs to know of a user (the accounts `User` row has it)."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def password_hash(self) -> str | None: ...


# -- the server-side rows ----------------------------------------------------------------


def open_user_session(
    session: Session,
    user_id: uuid.UUID,
    *,
    ip: str | None = None,
    user_agent: str | None = None,
) -> str:
    """A new signed-in session for the user; returns the token for the cookie (stored only
    as its hash)."""
    token = new_token("", 32)
    now = utcnow()
    session.add(
        UserSession(
            user_id=user_id,
            token_hash=sha256_hex(token),
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(seconds=SESSION_TTL_S),
            ip=(ip or "")[:64] or None,
            user_agent=(user_agent or "")[:200] or None,
        )
    )
    session.flush()
    return token


def session_user_id(session: Session, token: str | None) -> uuid.UUID | None:
    """The user of a live session, else None (unknown, revoked, expired). Whether that
    user is still active is the caller's check (auth.users)."""
    if not token:
        return None
    digest = sha256_hex(token)
    row = session.scalars(select(UserSession).where(UserSession.token_hash == digest)).first()
    now = utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    if (now - row.last_seen_at).total_seconds() > SESSION_TOUCH_S:
        row.last_seen_at = now
    return row.user_id


def close_user_session(session: Session, token: str | None) -> None:
    if not token:
        return
    row = session.scalars(
        select(UserSession).where(UserSession.token_hash == sha256_hex(token))
    ).first()
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()


def close_all_user_sessions(session: Session, user_id: uuid.UUID) -> int:
    """Sign a user out everywhere (deactivated, password reset)."""
    rows = session.scalars(
        select(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
    ).all()
    now = utcnow()
    for row in rows:
        row.revoked_at = now
    session.flush()
    return len(rows)


# -- the signed cookie -------------------------------------------------------------------


@lru_cache
def _serializer_for(key: str) -> URLSafeTimedSerializer:
    derived = hashlib.sha256(b"callscribe-web-session:" + key.encode()).hexdigest()
    return URLSafeTimedSerializer(derived, salt="callscribe.session")


def cookie_serializer() -> URLSafeTimedSerializer:
    """Signs the session cookie (and the web's flash cookie)."""
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
        return cookie_serializer().dumps({"s": self.token, "c": self.csrf, "p": self.pw})


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
            data = cookie_serializer().loads(raw, max_age=SESSION_MAX_AGE_S)
            token = data.get("s") if isinstance(data.get("s"), str) else None
            if isinstance(data.get("c"), str) and len(data["c"]) >= 20:
                ws = BrowserSession(token=token, csrf=data["c"], pw=data.get("p") or "")
        except (BadSignature, AttributeError, KeyError, TypeError, ValueError):
            ws = None
    if ws is None:
        ws = _new_session()
    request.state.web_session = ws
    return ws


def password_fingerprint(password_hash: str | None) -> str:
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def start_user_session(request: Request, session: Session, user: SignInUser) -> BrowserSession:
    """Sign `user` in: a new server session and a new CSRF token (no fixation). The
    caller commits."""
    ws = _new_session()
    ws.token = open_user_session(
        session, user.id, ip=client_ip(request), user_agent=request.headers.get("user-agent")
    )
    ws.pw = password_fingerprint(user.password_hash)
    request.state.web_session = ws
    request.state.current_user = None
    request.state.current_user_loaded = False
    return ws


def end_session(request: Request, session: Session) -> None:
    """Sign out: the server session is revoked and the cookie replaced. The caller
    commits."""
    close_user_session(session, load_session(request).token)
    ws = _new_session()
    ws.cleared = True
    request.state.web_session = ws
    request.state.current_user = None
    request.state.current_user_loaded = False


def secure_cookies(request: Request) -> bool:
    return request.url.scheme == "https" or get_settings().public_url.startswith("https://")


def write_session_cookie(request: Request, response: Response) -> Response:
    """Write the session cookie when it changed."""
    ws = load_session(request)
    if ws.changed or ws.cleared:
        response.set_cookie(
            SESSION_COOKIE,
            ws.dump(),
            max_age=SESSION_MAX_AGE_S,
            httponly=True,
            samesite="lax",
            secure=secure_cookies(request),
            path="/",
        )
        ws.changed = ws.cleared = False
    return response

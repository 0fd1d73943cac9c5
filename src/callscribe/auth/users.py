"""The signed-in user. auth does not read the accounts tables: the app shell hands it a
`UserLoader` (accounts provides one) when it builds the app, kept on `app.state`."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from callscribe.auth.csrf import CSRF_HEADER, SAFE_METHODS, csrf_ok
from callscribe.auth.permissions import Permission, Role
from callscribe.auth.principal import Principal
from callscribe.auth.sessions import (
    SESSION_COOKIE,
    load_session,
    password_fingerprint,
    session_user_id,
)
from callscribe.db import session_scope
from callscribe.errors import ErrorCode, Forbidden
from callscribe.security.crypto import constant_time_equals

# An agent whose user has no linked agent record sees no calls: an id that matches none.
NO_AGENT = uuid.UUID(int=0)


@dataclass(frozen=True)
class UserRecord:
    """What auth needs to know about a user, as the user loader returns it."""

    id: uuid.UUID
    email: str
    name: str
    role: Role
    company_id: uuid.UUID
    company_name: str
    is_platform_admin: bool
    is_active: bool
    agent_id: uuid.UUID | None
    password_hash: str | None = field(repr=False)
    time_zone: str | None = None  # the user's own (None: the company's)
    company_time_zone: str | None = None  # None: UTC


UserLoader = Callable[[Session, uuid.UUID], UserRecord | None]


@dataclass(frozen=True)
class CurrentUser:
    """The signed-in user, as views and templates need it."""

    id: uuid.UUID
    email: str
    name: str
    role: Role
    company_id: uuid.UUID
    company_name: str
    is_platform_admin: bool
    agent_id: uuid.UUID | None
    principal: Principal = field(repr=False)
    own_time_zone: str | None = None
    company_time_zone: str | None = None

    @property
    def time_zone(self) -> str:
        """The zone the pages show this user's times in."""
        return self.own_time_zone or self.company_time_zone or "UTC"

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    def can(self, permission: Permission) -> bool:
        return self.principal.can(permission)


def principal_for(user: UserRecord) -> Principal:
    agent_id = user.agent_id
    role = Role(user.role)
    if role == Role.AGENT and agent_id is None:
        agent_id = NO_AGENT
    return Principal(company_id=user.company_id, role=role, user_id=user.id, agent_id=agent_id)


def user_loader(request: Request) -> UserLoader:
    loader: UserLoader | None = getattr(request.app.state, "user_loader", None)
    if loader is None:
        raise RuntimeError("No user loader: the app shell must call auth.deps.install().")
    return loader


def user_from_session(request: Request, session: Session) -> CurrentUser | None:
    ws = load_session(request)
    user_id = session_user_id(session, ws.token)
    if user_id is None:
        return None
    user = user_loader(request)(session, user_id)
    if user is None or not user.is_active:
        return None
    if not constant_time_equals(password_fingerprint(user.password_hash), ws.pw):
        return None
    return CurrentUser(
        id=user.id,
        email=user.email,
        name=user.name,
        role=Role(user.role),
        company_id=user.company_id,
        company_name=user.company_name,
        is_platform_admin=user.is_platform_admin,
        agent_id=user.agent_id,
        principal=principal_for(user),
        own_time_zone=user.time_zone,
        company_time_zone=user.company_time_zone,
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


def cookie_principal(request: Request, session: Session) -> Principal | None:
    """The session cookie's user, for the JSON API from the browser. Unsafe methods must
    carry the X-CSRF-Token header, or the request is refused (a cross-site form cannot)."""
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
            code=ErrorCode.CSRF_FAILED,
        )
    return user.principal

"""Request-boundary dependencies, typed with `Annotated`: the database session, the
caller's principal (API key, OAuth token or session cookie), the signed-in user of a page,
and permission checks."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Iterator
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from callscribe.auth import ratelimit
from callscribe.auth.api_keys import API_KEY_PREFIX, authenticate_api_key
from callscribe.auth.csrf import verify_csrf
from callscribe.auth.oauth import OAUTH_TOKEN_PREFIX, authenticate_oauth_token
from callscribe.auth.permissions import Permission, Role
from callscribe.auth.principal import Principal
from callscribe.auth.sessions import client_ip
from callscribe.auth.users import CurrentUser, UserLoader, cookie_principal, current_user
from callscribe.db import get_sessionmaker, session_scope
from callscribe.errors import Forbidden, Unauthorized


def install(app: FastAPI, *, user_loader: UserLoader) -> None:
    """Wire auth into an app: how to load a user for the session cookie. Called by the
    app shell, which knows the accounts domain."""
    app.state.user_loader = user_loader


def get_session() -> Iterator[Session]:
    """The request's session. Endpoints that write call `session.commit()` themselves
    before enqueueing work or answering, so a job never sees an uncommitted row."""
    with session_scope() as session:
        yield session


DbSession = Annotated[Session, Depends(get_session)]


def _released_after(call: Callable[..., Any]) -> Callable[..., Any]:
    """`call`, committing and closing the request's session as soon as it returns: FastAPI
    serializes the answer (and closes yield dependencies) only after that, and a session
    held through serialization is a pool connection held by a threadpool thread (issue 17
    #3: 40 threads exhausted the pool). Answers are built from loaded attributes
    (expire_on_commit=False). On an exception get_session rolls back, as before."""

    def release(values: dict[str, Any]) -> None:
        for value in values.values():
            if isinstance(value, Session):
                value.commit()
                value.close()  # get_session's own commit/close are then no-ops

    if inspect.iscoroutinefunction(call):

        @functools.wraps(call)
        async def run_async(**values: Any) -> Any:
            result = await call(**values)
            await run_in_threadpool(release, values)
            return result

        run_async._releases_sessions = True  # type: ignore[attr-defined]
        return run_async

    @functools.wraps(call)
    def run(**values: Any) -> Any:
        result = call(**values)
        release(values)
        return result

    run._releases_sessions = True  # type: ignore[attr-defined]
    return run


def api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """Every APIRoute under `routes`, inside included routers too: FastAPI (0.165) keeps
    an included router as one `_IncludedRouter` entry whose own routes hold the
    endpoints, and builds the routes that answer from them at the first request."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from api_routes(route.original_router.routes)


def release_sessions_before_serialization(app: FastAPI) -> None:
    """Wrap every API route's endpoint with _released_after. Called by the app shell once
    its routers are included, before the first request (when included routers build
    their answering routes from these endpoints)."""
    for route in api_routes(app.routes):
        if getattr(route.endpoint, "_releases_sessions", False):
            continue  # a router included twice: wrapped once
        route.endpoint = _released_after(route.endpoint)
        if route.dependant.call is not None:
            route.dependant.call = route.endpoint


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def resolve_principal(request: Request, session: Session, api_key: str | None = None) -> Principal:
    """API key (bearer or the `api_key` form field), else OAuth access token, else the
    session cookie. A credential that fails counts against the caller's address; past
    BAD_CREDENTIALS_MAX in the window a bad one gets 429, not 401 (issue 17 #12)."""
    token = bearer_token(request)
    if not (token or api_key):
        principal = cookie_principal(request, session)
        if principal is not None:
            return principal
        raise Unauthorized("Authentication required: send Authorization: Bearer <API key>.")
    try:
        return _principal_from_credentials(request, session, token, api_key)
    except Unauthorized:
        # counted only when it fails: a good key costs no counter lookup, and one address
        # sending bad keys never locks out a good key sent from behind the same NAT
        limits = ratelimit.credential_limits(client_ip(request))
        ratelimit.record_failure(limits)
        ratelimit.raise_if_limited(
            limits, "Too many requests with a bad API key or token.", past=True
        )
        raise


def _principal_from_credentials(
    request: Request, session: Session, token: str | None, api_key: str | None
) -> Principal:
    if token and token.startswith(API_KEY_PREFIX):
        return authenticate_api_key(session, token)
    if api_key:
        return authenticate_api_key(session, api_key)
    if token and token.startswith(OAUTH_TOKEN_PREFIX):
        return authenticate_oauth_token(session, token)
    principal = cookie_principal(request, session)
    if principal is not None:
        return principal
    return authenticate_api_key(session, token)


def require_principal(request: Request) -> Principal:
    """FastAPI dependency; uses its own short session so it can run before the body."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    session = get_sessionmaker()()
    try:
        principal = resolve_principal(request, session)
        session.commit()  # last_used_at of the key
    finally:
        session.close()
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(require_principal)]


def check(principal: Principal, permission: Permission) -> None:
    if not principal.can(permission):
        raise Forbidden("Your role does not allow this.")


def require(permission: Permission) -> Callable[[Principal], Principal]:
    """A dependency: the caller's principal, when it holds `permission` (else 403)."""

    def dependency(principal: CurrentPrincipal) -> Principal:
        check(principal, permission)
        return principal

    return dependency


def require_role(principal: Principal, *roles: Role) -> None:
    if principal.role not in roles:
        raise Forbidden("Your role does not allow this.")


# -- pages -------------------------------------------------------------------------------


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
    if user.role != Role.ADMIN:
        raise HTTPException(status_code=403, detail="Only admins can open this page.")
    return user


async def require_manager(request: Request) -> CurrentUser:
    """Admins and managers."""
    user = await require_user(request)
    if user.role not in (Role.ADMIN, Role.MANAGER):
        raise HTTPException(status_code=403, detail="Only admins and managers can do this.")
    return user


PageUser = Annotated[CurrentUser, Depends(require_user)]
AdminUser = Annotated[CurrentUser, Depends(require_admin)]
ManagerUser = Annotated[CurrentUser, Depends(require_manager)]

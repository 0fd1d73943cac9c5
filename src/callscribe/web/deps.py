"""Request-boundary dependencies: the database session and the caller's identity."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import Session

from callscribe.accounts import service as accounts
from callscribe.accounts.service import Principal
from callscribe.db import get_sessionmaker
from callscribe.errors import Forbidden, Unauthorized


def get_session() -> Iterator[Session]:
    """The request's session. Endpoints that write call `session.commit()` themselves
    before enqueueing work or answering, so a job never sees an uncommitted row."""
    session = get_sessionmaker()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


# Other ways to authenticate (web session cookie, OAuth access tokens) register here:
# each takes (request, session) and returns a Principal or None.
PRINCIPAL_RESOLVERS: list = []


def resolve_principal(request: Request, session: Session, api_key: str | None = None) -> Principal:
    token = bearer_token(request)
    if token and token.startswith(accounts.API_KEY_PREFIX):
        return accounts.authenticate_api_key(session, token)
    if api_key:
        return accounts.authenticate_api_key(session, api_key)
    for resolver in PRINCIPAL_RESOLVERS:
        principal = resolver(request, session)
        if principal is not None:
            return principal
    if token:
        return accounts.authenticate_api_key(session, token)
    raise Unauthorized("Authentication required: send Authorization: Bearer <API key>.")


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


def require_role(principal: Principal, *roles: str) -> None:
    if principal.role not in roles:
        raise Forbidden("Your role does not allow this.")

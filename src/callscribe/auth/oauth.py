"""OAuth apps and their access tokens (client-credentials grant)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from callscribe.auth.models import OAuthApp, OAuthToken
from callscribe.auth.permissions import Permission, Role
from callscribe.auth.principal import Principal
from callscribe.db import utcnow
from callscribe.errors import ErrorCode, Forbidden, NotFound, Unauthorized, ValidationFailed
from callscribe.security.crypto import constant_time_equals, new_token, sha256_hex

OAUTH_CLIENT_PREFIX = "csapp_"
OAUTH_SECRET_PREFIX = "cssec_"
OAUTH_TOKEN_PREFIX = "csat_"
OAUTH_TOKEN_TTL_S = 16 * 3600  # access tokens live 16 hours


def _check_manager(
    principal: Principal, message: str = "Only admins and company API keys manage OAuth apps."
) -> None:
    company_credential = principal.api_key_id is not None or principal.user_id is not None
    if not company_credential or not principal.can(Permission.OAUTH_APPS_MANAGE):
        raise Forbidden(message)


def create_oauth_app(session: Session, principal: Principal, name: str) -> tuple[OAuthApp, str]:
    """Only company API keys (and admins signed in) create apps; an app's own token
    cannot mint more apps. Returns the row and the plain client secret (shown once)."""
    _check_manager(principal, "OAuth apps are created with a company API key.")
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("An OAuth app needs a name.")
    secret = new_token(OAUTH_SECRET_PREFIX, 32)
    app = OAuthApp(
        company_id=principal.company_id,
        name=name[:200],
        client_id=new_token(OAUTH_CLIENT_PREFIX, 18),
        client_secret_hash=sha256_hex(secret),
        created_by_key=principal.api_key_id,
    )
    session.add(app)
    session.flush()
    return app, secret


def list_oauth_apps(session: Session, company_id: uuid.UUID) -> list[OAuthApp]:
    return list(
        session.scalars(
            select(OAuthApp).where(OAuthApp.company_id == company_id).order_by(OAuthApp.created_at)
        )
    )


def revoke_oauth_app(session: Session, principal: Principal, app_id: uuid.UUID) -> OAuthApp:
    """Admins and company API keys only; an app's token revokes no app, not even its own
    (its company's key or an admin does)."""
    _check_manager(principal)
    app = session.get(OAuthApp, app_id)
    if app is None or app.company_id != principal.company_id:
        raise NotFound("OAuth app not found.")
    app.revoked_at = app.revoked_at or utcnow()
    for token in session.scalars(select(OAuthToken).where(OAuthToken.app_id == app.id)):
        token.revoked = True
    session.flush()
    return app


def issue_oauth_token(
    session: Session, client_id: str, client_secret: str, *, now: datetime | None = None
) -> tuple[OAuthToken, str]:
    """Client-credentials grant. `now` is the issue time (tests move the clock with it)."""
    app = session.scalars(select(OAuthApp).where(OAuthApp.client_id == client_id)).first()
    digest = sha256_hex(client_secret or "")
    if (
        app is None
        or app.revoked_at is not None
        or not constant_time_equals(app.client_secret_hash, digest)
    ):
        raise Unauthorized(
            "invalid_client: unknown client, wrong secret or revoked app.",
            code=ErrorCode.INVALID_CLIENT,
        )
    issued = now or utcnow()
    plain = new_token(OAUTH_TOKEN_PREFIX, 32)
    token = OAuthToken(
        app_id=app.id,
        company_id=app.company_id,
        token_hash=sha256_hex(plain),
        created_at=issued,
        expires_at=issued + timedelta(seconds=OAUTH_TOKEN_TTL_S),
    )
    session.add(token)
    session.flush()
    return token, plain


def authenticate_oauth_token(
    session: Session, plain: str, *, now: datetime | None = None
) -> Principal:
    """An app's token acts as an admin of the app's company (integrations push calls and
    read results), but it is not a company key: it cannot manage OAuth apps."""
    digest = sha256_hex(plain.strip())
    token = session.scalars(select(OAuthToken).where(OAuthToken.token_hash == digest)).first()
    if token is None or not constant_time_equals(token.token_hash, digest):
        raise Unauthorized("The access token is not valid.", code=ErrorCode.INVALID_TOKEN)
    app = session.get(OAuthApp, token.app_id)
    if token.revoked or app is None or app.revoked_at is not None:
        raise Unauthorized("The access token was revoked.", code=ErrorCode.INVALID_TOKEN)
    if (now or utcnow()) >= token.expires_at:
        raise Unauthorized(
            "The access token expired; request a new one.", code=ErrorCode.TOKEN_EXPIRED
        )
    return Principal(company_id=token.company_id, role=Role.ADMIN, oauth_app_id=app.id)

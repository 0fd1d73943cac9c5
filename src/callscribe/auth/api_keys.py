"""Company API keys: shown once, stored as a SHA-256 hash; a key acts as an admin of its
company."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from callscribe.auth.models import ApiKey
from callscribe.auth.permissions import Role
from callscribe.auth.principal import Principal
from callscribe.db import utcnow
from callscribe.errors import NotFound, Unauthorized
from callscribe.security.crypto import constant_time_equals, new_token, sha256_hex

API_KEY_PREFIX = "cs_"


def create_api_key(
    session: Session,
    company_id: uuid.UUID,
    name: str = "API key",
    created_by: uuid.UUID | None = None,
) -> tuple[ApiKey, str]:
    """Returns the row and the plain key; the key is shown once and stored hashed."""
    plain = new_token(API_KEY_PREFIX, 30)
    row = ApiKey(
        company_id=company_id,
        name=(name or "API key")[:200],
        prefix=plain[:9],
        key_hash=sha256_hex(plain),
        created_by=created_by,
    )
    session.add(row)
    session.flush()
    return row, plain


def authenticate_api_key(session: Session, plain: str | None) -> Principal:
    if not plain:
        raise Unauthorized("An API key is required (form field api_key or Authorization: Bearer).")
    digest = sha256_hex(plain.strip())
    row = session.scalars(select(ApiKey).where(ApiKey.key_hash == digest)).first()
    # compare_digest on the hash keeps the check constant-time for equal-length inputs
    if row is None or row.revoked_at is not None or not constant_time_equals(row.key_hash, digest):
        raise Unauthorized("The API key is not valid or was revoked.")
    now = utcnow()
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        row.last_used_at = now  # bounded write rate on hot keys
    return Principal(company_id=row.company_id, role=Role.ADMIN, api_key_id=row.id)


def list_api_keys(session: Session, company_id: uuid.UUID) -> list[ApiKey]:
    return list(
        session.scalars(
            select(ApiKey).where(ApiKey.company_id == company_id).order_by(ApiKey.created_at)
        )
    )


def revoke_api_key(session: Session, company_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None or row.company_id != company_id:
        raise NotFound("API key not found.")
    row.revoked_at = row.revoked_at or utcnow()
    return row

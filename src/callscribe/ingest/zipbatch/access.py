"""Who may send batches: ingestion sources (a Source ID each, part of every item's PID)
and ingest API keys (shown once, stored as a SHA-256 hash, compared in constant time)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from callscribe.db import utcnow
from callscribe.errors import ErrorCode, NotFound, Unauthorized, ValidationFailed
from callscribe.ingest.zipbatch.models import IngestionSource, IngestKey
from callscribe.security.crypto import constant_time_equals, new_token, sha256_hex

INGEST_KEY_PREFIX = "csi_"


def create_source(
    session: Session, company_id: uuid.UUID, name: str, created_by: uuid.UUID | None = None
) -> IngestionSource:
    clean = (name or "").strip()
    if not clean:
        raise ValidationFailed("name: give the source a name (what sends the batches).")
    if len(clean) > 200:
        raise ValidationFailed("name: at most 200 characters.")
    source = IngestionSource(company_id=company_id, name=clean, created_by=created_by)
    session.add(source)
    session.flush()
    return source


def list_sources(session: Session, company_id: uuid.UUID) -> list[IngestionSource]:
    return list(
        session.scalars(
            select(IngestionSource)
            .where(IngestionSource.company_id == company_id)
            .order_by(IngestionSource.created_at)
        )
    )


def get_source(
    session: Session, company_id: uuid.UUID, source_id: str | uuid.UUID
) -> IngestionSource:
    try:
        sid = uuid.UUID(str(source_id))
    except ValueError:
        sid = None
    source = session.get(IngestionSource, sid) if sid else None
    if source is None or source.company_id != company_id:
        raise NotFound(
            f"No ingestion source {str(source_id)[:60]!r} in this account: create one in "
            "Settings -> Ingest API or with POST /api/v1/ingest/sources.",
            code=ErrorCode.INGEST_SOURCE_NOT_FOUND,
        )
    return source


def create_key(
    session: Session,
    company_id: uuid.UUID,
    name: str | None = None,
    created_by: uuid.UUID | None = None,
) -> tuple[IngestKey, str]:
    """The row and the plain secret: shown once, stored hashed."""
    plain = new_token(INGEST_KEY_PREFIX, 30)
    row = IngestKey(
        company_id=company_id,
        name=((name or "").strip() or "Ingest key")[:200],
        prefix=plain[:10],
        key_hash=sha256_hex(plain),
        created_by=created_by,
    )
    session.add(row)
    session.flush()
    return row, plain


def list_keys(session: Session, company_id: uuid.UUID) -> list[IngestKey]:
    return list(
        session.scalars(
            select(IngestKey)
            .where(IngestKey.company_id == company_id)
            .order_by(IngestKey.created_at)
        )
    )


def revoke_key(session: Session, company_id: uuid.UUID, key_id: uuid.UUID) -> IngestKey:
    row = session.get(IngestKey, key_id)
    if row is None or row.company_id != company_id:
        raise NotFound("Ingest key not found.")
    row.revoked_at = row.revoked_at or utcnow()
    session.flush()
    return row


def authenticate_key(session: Session, plain: str | None) -> IngestKey:
    if not plain:
        raise Unauthorized(
            "An ingest key is required: Authorization: Bearer <ingest secret>.",
            code=ErrorCode.INGEST_KEY_INVALID,
        )
    digest = sha256_hex(plain.strip())
    row = session.scalars(select(IngestKey).where(IngestKey.key_hash == digest)).first()
    if row is None or row.revoked_at is not None or not constant_time_equals(row.key_hash, digest):
        raise Unauthorized(
            "The ingest key is not valid or was revoked.", code=ErrorCode.INGEST_KEY_INVALID
        )
    now = utcnow()
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        row.last_used_at = now
    return row

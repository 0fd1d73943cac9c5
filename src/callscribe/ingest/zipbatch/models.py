"""Tables of the ZIP ingest API: ingestion sources, ingest keys (hashed), batches with
their status, counts and first messages, the per-file progress that makes a batch
resumable, and the engagements a batch touched (processed once it ends)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from callscribe.db import Base, JSONType, UTCDateTime, new_id, utcnow


class BatchStatus(StrEnum):
    PENDING = "pending"  # an upload URL was handed out; no bytes yet
    UPLOADED = "uploaded"
    PROCESSING = "processing"
    COMPLETED = "completed"
    COMPLETED_WITH_WARNINGS = "completed_with_warnings"
    FAILED = "failed"


class IngestionSource(Base):
    """A system that sends batches (its Source ID is part of every item's PID)."""

    __tablename__ = "ingestion_sources"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IngestKey(Base):
    """An ingest API key: shown once, stored as a SHA-256 hash; it may only ask for
    upload URLs and read batches of its company."""

    __tablename__ = "ingest_keys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))  # shown in lists: "csi_ab12cd"
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IngestBatch(Base):
    """One ZIP: from the upload URL handed out to the last item loaded."""

    __tablename__ = "ingest_batches"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    source_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("ingestion_sources.id", ondelete="CASCADE"), index=True
    )
    key_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("ingest_keys.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(24), default=BatchStatus.PENDING.value)
    blob_key: Mapped[str] = mapped_column(String(300))
    size: Mapped[int | None] = mapped_column(BigInteger)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)  # of the upload URL
    error_code: Mapped[str | None] = mapped_column(String(60))
    error: Mapped[str | None] = mapped_column(Text)
    # {data set: {created, updated, unchanged, rejected, warnings}}
    counts: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    messages: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)  # first N
    message_count: Mapped[int] = mapped_column(Integer, default=0)  # all of them
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    uploaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a worker's lease
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IngestBatchFile(Base):
    """Progress through one JSONL file of a batch: `lines_done` is committed with the
    items of each chunk, so a restarted worker goes on after the last committed line."""

    __tablename__ = "ingest_batch_files"
    __table_args__ = (UniqueConstraint("batch_id", "name", name="uq_ingest_batch_files_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("ingest_batches.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(300))
    data_set: Mapped[str | None] = mapped_column(String(40))  # None: not a data set we know
    position: Mapped[int] = mapped_column(Integer, default=0)  # processing order
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending|done|skipped
    lines_done: Mapped[int] = mapped_column(BigInteger, default=0)
    counts: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class IngestBatchEngagement(Base):
    """An engagement a batch created or whose turns it changed: handed to the pipeline
    (or left waiting for its turns) when the batch's items are all in."""

    __tablename__ = "ingest_batch_engagements"

    batch_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("ingest_batches.id", ondelete="CASCADE"), primary_key=True
    )
    engagement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("engagements.id", ondelete="CASCADE"), primary_key=True
    )

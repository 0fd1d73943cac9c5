"""Tables of bulk and integration ingestion: signed-URL uploads, tus uploads, sheets."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from callscribe.db import Base, JSONType, UTCDateTime, new_id, utcnow


class RecordingUpload(Base):
    """Step 1-2 of the three-step upload: a signed PUT target and, once the bytes came,
    the blob waiting for step 3 (`POST /api/v2/recordings`) to become a call."""

    __tablename__ = "recording_uploads"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending|uploaded|used
    blob_key: Mapped[str] = mapped_column(String(300))
    filename: Mapped[str | None] = mapped_column(String(300))
    expected_size: Mapped[int | None] = mapped_column(BigInteger)
    size: Mapped[int | None] = mapped_column(BigInteger)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    engagement_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("engagements.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    uploaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TusUpload(Base):
    """A resumable upload (tus 1.0). Bytes accumulate in a staging file; `offset` is what
    the server has durably written."""

    __tablename__ = "tus_uploads"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    length: Mapped[int] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger, default=0)
    part_path: Mapped[str] = mapped_column(String(500))
    upload_meta: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(12), default="open")  # open|completed|failed
    # the PATCH writing it now, in any web process (renewed as it streams; a lease older
    # than tus.LEASE_S is a PATCH whose process died)
    patch_lease_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    patch_lease_owner: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    engagement_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("engagements.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SheetJob(Base):
    """A bulk import of rows (a spreadsheet): rows stream in, finalize starts processing."""

    __tablename__ = "sheet_jobs"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str | None] = mapped_column(String(200))
    mapping: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    defaults: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(12), default="open")  # open|processing|completed
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finalized_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SheetRow(Base):
    __tablename__ = "sheet_rows"
    __table_args__ = (
        UniqueConstraint("job_id", "row_no", name="uq_sheet_rows_job_row"),
        Index("ix_sheet_rows_job_status", "job_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("sheet_jobs.id", ondelete="CASCADE"))
    row_no: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending|done|error
    error: Mapped[str | None] = mapped_column(Text)
    engagement_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("engagements.id", ondelete="SET NULL")
    )

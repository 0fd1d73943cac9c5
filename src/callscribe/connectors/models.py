from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from callscribe.db import Base, JSONType, UTCDateTime, new_id, utcnow


class SyncStatus(StrEnum):
    """Of a sync run, and the connector's last one."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class SyncTrigger(StrEnum):
    MANUAL = "manual"
    SCHEDULE = "schedule"
    WEBHOOK = "webhook"


class EventStatus(StrEnum):
    """Of an inbound real-time event (and of importing one call)."""

    RECEIVED = "received"
    IMPORTING = "importing"  # a worker took it (processed_at: when); stale => re-run
    IMPORTED = "imported"
    DUPLICATE = "duplicate"
    FAILED = "failed"
    SKIPPED = "skipped"


class Connector(Base):
    """A company's link to one provider account. Credentials and the webhook secret are
    Fernet-encrypted; `credentials_hint` is the only part of them ever shown again."""

    __tablename__ = "connectors"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(40))  # a key of the connector registry
    name: Mapped[str] = mapped_column(String(200))
    base_url: Mapped[str] = mapped_column(String(500))
    credentials_enc: Mapped[str] = mapped_column(Text)  # encrypted JSON object
    credentials_hint: Mapped[str | None] = mapped_column(String(200))  # "dgr_…1a2b", a user name
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    poll_interval_s: Mapped[int] = mapped_column(Integer, default=900)
    cursor: Mapped[dict[str, Any] | None] = mapped_column(JSONType)  # provider-specific position
    sync_lease_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a sync is running
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_sync_status: Mapped[str | None] = mapped_column(String(20))
    last_sync_error: Mapped[str | None] = mapped_column(Text)
    last_sync_imported: Mapped[int | None] = mapped_column(Integer)
    webhook_secret_enc: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SyncRun(Base):
    """One sync of a connector: what was seen, imported, and why it failed."""

    __tablename__ = "connector_sync_runs"
    __table_args__ = (
        Index("ix_connector_sync_runs_connector_started", "connector_id", "started_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    connector_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("connectors.id", ondelete="CASCADE")
    )
    trigger: Mapped[str] = mapped_column(String(20))  # a SyncTrigger
    status: Mapped[str] = mapped_column(String(20), default=SyncStatus.RUNNING.value)
    seen: Mapped[int] = mapped_column(Integer, default=0)
    imported: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    pending: Mapped[int] = mapped_column(Integer, default=0)  # calls still in progress there
    failed: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    cursor_before: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    cursor_after: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InboundEvent(Base):
    """A real-time delivery. Unique (source, external_id) makes a re-delivery a no-op:
    one row per run id ("run:<id>") and one per delivery id ("delivery:<uuid>"), with
    source "<type>:<connector id>"."""

    __tablename__ = "connector_inbound_events"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_connector_inbound_events_source"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    connector_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("connectors.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(200))
    call_ref: Mapped[str] = mapped_column(String(200))  # the provider's id of the call
    status: Mapped[str] = mapped_column(String(20), default=EventStatus.RECEIVED.value)
    error: Mapped[str | None] = mapped_column(Text)
    call_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from callscribe.db import Base, JSONType, UTCDateTime, new_id, utcnow


class Customer(Base):
    """The other party of a conversation. PII: masked in analytics, shown with permission."""

    __tablename__ = "customers"
    __table_args__ = (Index("ix_customers_company_pid", "company_id", "pid", unique=True),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    pid: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # UUIDv5(company, source, external id)
    name: Mapped[str | None] = mapped_column(String(200))
    phones: Mapped[list[str]] = mapped_column(JSONType, default=list)
    emails: Mapped[list[str]] = mapped_column(JSONType, default=list)
    company_name: Mapped[str | None] = mapped_column(String(200))
    stage: Mapped[str | None] = mapped_column(String(100))
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

"""The reveal audit log: every time someone is shown a masked PII value. It says who,
what kind, where (engagement, turn) and when, never the value itself. Engagement and
turn are kept without foreign keys: a turn is replaced when a call is processed again,
and the log outlives it."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from callscribe.db import Base, UTCDateTime, new_id, utcnow


class PiiReveal(Base):
    __tablename__ = "pii_reveals"
    __table_args__ = (Index("ix_pii_reveals_company_at", "company_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE")
    )
    # one of these says who: a user, a company API key, an OAuth app's token
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    oauth_app_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    actor: Mapped[str] = mapped_column(String(320))  # the user's email or "API key …"
    kind: Mapped[str] = mapped_column(String(10))  # privacy.detectors.PiiKind
    engagement_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    turn_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

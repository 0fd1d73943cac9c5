from __future__ import annotations

import json
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
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


class AutomationKind(StrEnum):
    SLACK = "slack"
    WEBHOOK = "webhook"
    EMAIL = "email"


class DeliveryStatus(StrEnum):
    """pending -> sending -> succeeded | retrying (-> sending ...) | failed."""

    PENDING = "pending"
    SENDING = "sending"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


# not finished: an attempt is running or due
UNFINISHED_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.RETRYING)


class TlsMode(StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    SSL = "ssl"


class Automation(Base):
    """One destination for completed calls. Credentials (the Slack/webhook URL, signing
    secrets) are Fernet-encrypted in `*_enc`; `target_hint` is what admins see again."""

    __tablename__ = "automations"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))  # slack | webhook | email
    name: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)

    url_enc: Mapped[str | None] = mapped_column(Text)  # slack / webhook
    target_hint: Mapped[str | None] = mapped_column(String(300))  # "hooks.example.com …ab12"
    secret_enc: Mapped[str | None] = mapped_column(Text)  # optional X-Callscribe-Signature key
    secret_last4: Mapped[str | None] = mapped_column(String(8))
    whsec_enc: Mapped[str | None] = mapped_column(Text)  # Standard Webhooks key "whsec_…"
    # kind-specific, non-secret: method, timeout_s (webhook); recipients, send_to_agent (email)
    options: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    include_internal: Mapped[bool] = mapped_column(Boolean, default=False)
    agent_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("agents.id", ondelete="SET NULL")
    )
    direction: Mapped[str | None] = mapped_column(String(10))  # inbound | outbound

    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    # the kind-specific options, read as attributes (what AutomationOut shows)
    @property
    def events(self) -> list[str]:
        """The outbox events it delivers (call.completed, tracker.matched)."""
        return list((self.options or {}).get("events") or ["call.completed"])

    @property
    def method(self) -> str | None:
        return (self.options or {}).get("method")

    @property
    def timeout_s(self) -> float | None:
        return (self.options or {}).get("timeout_s")

    @property
    def recipients(self) -> list[str]:
        return (self.options or {}).get("recipients") or []

    @property
    def send_to_agent(self) -> bool | None:
        return (self.options or {}).get("send_to_agent")

    @property
    def secret_set(self) -> bool:
        return bool(self.secret_enc)


class Delivery(Base):
    """One event for one automation: the frozen body, and where its attempts stand.
    Its id is the Standard Webhooks `webhook-id`, the same on every retry."""

    __tablename__ = "deliveries"
    __table_args__ = (
        # one delivery per (automation, call, event): a re-emitted event is not a duplicate
        UniqueConstraint("automation_id", "engagement_id", "event", name="uq_deliveries_event"),
        Index("ix_deliveries_automation_created", "automation_id", "created_at"),
        Index("ix_deliveries_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    automation_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("automations.id", ondelete="CASCADE")
    )
    engagement_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("engagements.id", ondelete="SET NULL")
    )  # None for a test delivery
    event: Mapped[str] = mapped_column(String(40))  # call.completed | test
    # the webhook body, frozen as the exact JSON text sent (JSONB would reorder its keys)
    payload: Mapped[str] = mapped_column(Text)
    context: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # link, recipients
    status: Mapped[str] = mapped_column(String(10), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # while an attempt runs
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def body(self) -> dict[str, Any]:
        return json.loads(self.payload)


class DeliveryAttempt(Base):
    """The log line of one try: what the receiver answered, or why it could not."""

    __tablename__ = "delivery_attempts"
    __table_args__ = (UniqueConstraint("delivery_id", "attempt", name="uq_delivery_attempts_n"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("deliveries.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    ok: Mapped[bool] = mapped_column(Boolean, default=False)
    http_status: Mapped[int | None] = mapped_column(Integer)
    smtp_reply: Mapped[str | None] = mapped_column(String(500))
    response: Mapped[str | None] = mapped_column(Text)  # truncated
    error: Mapped[str | None] = mapped_column(Text)
    retry_in_s: Mapped[float | None] = mapped_column(Float)  # when a retry was scheduled


class SmtpSettings(Base):
    """The company's outgoing mail server for email automations."""

    __tablename__ = "smtp_settings"

    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), primary_key=True
    )
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer, default=587)
    tls_mode: Mapped[str] = mapped_column(String(10), default=TlsMode.STARTTLS.value)
    username: Mapped[str | None] = mapped_column(String(320))
    password_enc: Mapped[str | None] = mapped_column(Text)
    from_address: Mapped[str] = mapped_column(String(320))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    configured = True  # a row is a configured server (SmtpSettingsOut)

    @property
    def password_set(self) -> bool:
        return bool(self.password_enc)

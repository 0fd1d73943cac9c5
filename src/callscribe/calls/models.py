from __future__ import annotations

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
    false,
)
from sqlalchemy import (
    text as sql_text,
)
from sqlalchemy.orm import Mapped, mapped_column

from callscribe.db import Base, JSONType, UTCDateTime, new_id, utcnow


class EngagementStatus(StrEnum):
    """received -> transcribing -> analyzing -> completed | failed, and waiting (a
    setting it needs is missing). Stored and answered as the value."""

    RECEIVED = "received"
    TRANSCRIBING = "transcribing"
    ANALYZING = "analyzing"
    COMPLETED = "completed"
    FAILED = "failed"
    WAITING = "waiting"


# in the hands of the pipeline (or due to be): a worker holds, or will take, its lease
ACTIVE_STATUSES = (
    EngagementStatus.RECEIVED,
    EngagementStatus.TRANSCRIBING,
    EngagementStatus.ANALYZING,
)
# nothing happens to it until someone acts (retry, a setting saved)
FINAL_STATUSES = (EngagementStatus.COMPLETED, EngagementStatus.FAILED, EngagementStatus.WAITING)


class Channel(StrEnum):
    VOICE = "voice"
    CHAT = "chat"
    EMAIL = "email"
    TICKET = "ticket"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    INTERNAL = "internal"


class Timing(StrEnum):
    """How far an engagement's turn times can be trusted, in `Engagement.meta["timing"]`.
    Response times and overlaps are shown only for `real` times."""

    REAL = "real"  # word timestamps (audio), `sent_at` (messages), a provider's own times
    SEGMENTS = "segments"  # speech-engine segments: one can span pauses and the other party
    NONE = "none"  # no times: messages kept in order on a made-up one-second clock


class TurnRole(StrEnum):
    AGENT = "agent"
    CUSTOMER = "customer"
    BOT = "bot"
    UNKNOWN = "unknown"


class ConversationKind(StrEnum):
    """Why engagements share a conversation (stored in `conversations.kind`)."""

    EXPLICIT = "explicit"  # the source gave a conversation id at ingest
    THREAD = "thread"  # a ticket or email thread (same thread id of one source)
    WINDOW = "window"  # a transfer or callback: same customer and source within the window


class Conversation(Base):
    """Groups engagements that belong together: an explicit conversation id given at
    ingest, a ticket/email thread, or a transfer/callback within the company's window
    (`calls.service.assign_conversation`, called by the one ingest path)."""

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("company_id", "pid", name="uq_conversations_pid"),
        Index("ix_conversations_customer_started", "company_id", "customer_id", "started_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    # explicit: UUIDv5 of the given id; thread: of (source, thread id); window: of the
    # first engagement's PID (None when it had none)
    pid: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(
        String(10), default=ConversationKind.WINDOW.value, server_default="window"
    )
    external_id: Mapped[str | None] = mapped_column(String(200))  # the conversation/thread id
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("customers.id", ondelete="SET NULL")
    )
    source: Mapped[str | None] = mapped_column(String(40))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # its first engagement's
    # when its last engagement ended: a transfer or callback is counted from here
    last_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    direction: Mapped[str | None] = mapped_column(String(10))  # its first engagement's
    channels: Mapped[list[str]] = mapped_column(  # sorted, distinct
        JSONType, default=list, server_default=sql_text("'[]'")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Engagement(Base):
    """One agent with one customer on one channel. A voice engagement is a call."""

    __tablename__ = "engagements"
    __table_args__ = (
        # the PID (company, source, data set, external id) is what makes an item unique:
        # the same external id may come again in another data set
        UniqueConstraint("company_id", "pid", name="uq_engagements_pid"),
        Index("ix_engagements_company_started", "company_id", "started_at"),
        Index("ix_engagements_company_status", "company_id", "status"),
        Index("ix_engagements_conversation", "conversation_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    conversation_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("conversations.id", ondelete="SET NULL")
    )
    agent_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("agents.id", ondelete="SET NULL"), index=True
    )
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    channel: Mapped[str] = mapped_column(String(10), default=Channel.VOICE.value)
    source: Mapped[str] = mapped_column(String(40), default="upload")  # upload|api|url|<connector>
    external_id: Mapped[str | None] = mapped_column(String(200))
    # UUIDv5 of (company, source, data set, external id): re-sent data finds this row
    # (ingest.request.pid_for); None for engagements that came without an external id
    pid: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    direction: Mapped[str | None] = mapped_column(String(10))
    queue: Mapped[str | None] = mapped_column(String(100))
    # the logical model's engagement (DESIGN.md): where and for whom it happened, as the
    # source system says; `outcome` is the source's (a sale, resolved...), the Minutes
    # have the analyzer's own
    outcome: Mapped[str | None] = mapped_column(String(100))
    location: Mapped[str | None] = mapped_column(String(100))
    # the agent's team and department when it happened (an agent may move later)
    engaged_team: Mapped[str | None] = mapped_column(String(100))
    engaged_department: Mapped[str | None] = mapped_column(String(100))
    # seconds; talk is also measured from the turns once a recording is transcribed
    talk_s: Mapped[float | None] = mapped_column(Float)
    hold_s: Mapped[float | None] = mapped_column(Float)
    wait_s: Mapped[float | None] = mapped_column(Float)
    wrapup_s: Mapped[float | None] = mapped_column(Float)
    # `Type = Technical`: a test call, an IVR-only contact; filterable, kept out by default
    is_technical: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # name -> value (at most 100 characters) and name -> number
    attributes: Mapped[dict[str, Any]] = mapped_column(
        JSONType, default=dict, server_default=sql_text("'{}'")
    )
    facts: Mapped[dict[str, Any]] = mapped_column(
        JSONType, default=dict, server_default=sql_text("'{}'")
    )
    # the seed API's `order_id`, stored and returned as `worker_id`: that name is the
    # documented contract of our developer API, keep it
    worker_id: Mapped[str | None] = mapped_column(String(100))
    customer_name: Mapped[str | None] = mapped_column(String(200))
    customer_phone: Mapped[str | None] = mapped_column(String(40))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_s: Mapped[float | None] = mapped_column(Float)

    status: Mapped[str] = mapped_column(String(20), default=EngagementStatus.RECEIVED.value)
    status_reason: Mapped[str | None] = mapped_column(String(300))  # why it is waiting
    progress: Mapped[float] = mapped_column(Float, default=0.0)  # 0..1 within the current step
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # lease of a worker
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    processing_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    processing_time_ms: Mapped[int | None] = mapped_column(Integer)

    audio_key: Mapped[str | None] = mapped_column(String(300))
    audio_format: Mapped[str | None] = mapped_column(String(10))
    audio_filename: Mapped[str | None] = mapped_column(String(300))
    audio_size: Mapped[int | None] = mapped_column(Integer)
    audio_channels: Mapped[int | None] = mapped_column(Integer)
    meta: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Turn(Base):
    """One utterance or message. `seq` orders turns as produced; read them by start_ms."""

    __tablename__ = "turns"
    __table_args__ = (UniqueConstraint("engagement_id", "seq", name="uq_turns_engagement_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    company_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    engagement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(10))
    speaker: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[int | None] = mapped_column(Integer)
    start_ms: Mapped[int] = mapped_column(Integer, default=0)
    end_ms: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text)
    # the PII found in `text`, [[kind, start, end], ...] (privacy.masking.spans_to_json):
    # computed by the pipeline and at ingest so masking at read time is cheap; None until
    # then (the reader detects itself)
    pii_spans: Mapped[list[list[Any]] | None] = mapped_column(JSONType, nullable=True)


# -- what the analysis wrote about an engagement: read wherever a call is shown (calls,
# delivery, exports), written by the minutes domain, which owns the analyzers and the
# action-item workflow. Here, below every reader, so no domain imports minutes to show a call.
class ActionItemStatus(StrEnum):
    OPEN = "open"
    DONE = "done"


class Priority(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Minutes(Base):
    __tablename__ = "minutes"

    engagement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("engagements.id", ondelete="CASCADE"), primary_key=True
    )
    company_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    subject: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text)
    overview: Mapped[str] = mapped_column(Text, default="")
    sentiment: Mapped[str] = mapped_column(String(10))
    outcome: Mapped[str] = mapped_column(String(100))
    sections: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    notes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    analyzer: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ActionItem(Base):
    __tablename__ = "action_items"
    __table_args__ = (UniqueConstraint("engagement_id", "seq", name="uq_action_items_seq"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    engagement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    priority: Mapped[str] = mapped_column(String(10), default=Priority.MEDIUM.value)
    status: Mapped[str] = mapped_column(String(10), default=ActionItemStatus.OPEN.value, index=True)
    owner: Mapped[str | None] = mapped_column(String(200))
    due: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

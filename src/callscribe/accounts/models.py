from __future__ import annotations

import uuid
from datetime import datetime
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
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from callscribe.auth.permissions import Role
from callscribe.db import Base, JSONType, UTCDateTime, new_id, utcnow


class Company(Base):
    __tablename__ = "companies"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # an IANA zone (zoneinfo) the pages show times in; None: UTC
    time_zone: Mapped[str | None] = mapped_column(String(64))


class CompanySettings(Base):
    """Settings admins change in the web app. Secrets are Fernet-encrypted (`*_enc`)."""

    __tablename__ = "company_settings"

    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), primary_key=True
    )
    ai_engine: Mapped[str] = mapped_column(String(40), default="local")  # local | openai
    ai_provider: Mapped[str | None] = mapped_column(String(40))  # openai | mistral | custom
    ai_base_url: Mapped[str | None] = mapped_column(String(500))
    ai_model: Mapped[str | None] = mapped_column(String(200))
    ai_api_key_enc: Mapped[str | None] = mapped_column(Text)
    ai_api_key_last4: Mapped[str | None] = mapped_column(String(8))
    speech_engine: Mapped[str] = mapped_column(String(40), default="faster-whisper")
    speech_model: Mapped[str | None] = mapped_column(String(200))
    speech_base_url: Mapped[str | None] = mapped_column(String(500))
    speech_api_key_enc: Mapped[str | None] = mapped_column(Text)
    speech_language: Mapped[str | None] = mapped_column(String(16))
    outcome_labels: Mapped[list[str] | None] = mapped_column(JSONType)
    # {"<source>": {"0": "agent", "1": "customer"}}; "*" is the default for every source
    channel_roles: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    redact_pii: Mapped[bool] = mapped_column(Boolean, default=False)
    # a transfer or callback this many minutes after the last engagement with the same
    # customer and source joins its conversation (calls.service.assign_conversation)
    conversation_window_min: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20), default=Role.AGENT)  # auth.Role
    is_platform_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    agent_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("agents.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the live invitation/reset link is signed over it: a new link or a password set
    # replaces it, so every older link stops working
    invite_nonce: Mapped[str | None] = mapped_column(String(64))
    # the user's own zone for the pages; None: the company's
    time_zone: Mapped[str | None] = mapped_column(String(64))


class Agent(Base):
    """A person or bot acting for the company; calls are attributed to agents."""

    __tablename__ = "agents"
    __table_args__ = (
        Index("ix_agents_company_extension", "company_id", "extension_id"),
        Index("ix_agents_company_external", "company_id", "source", "external_id", unique=True),
        UniqueConstraint("company_id", "pid", name="uq_agents_pid"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(40))
    extension_id: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(40), default="manual")
    external_id: Mapped[str | None] = mapped_column(String(100))
    team: Mapped[str | None] = mapped_column(String(100))
    department: Mapped[str | None] = mapped_column(String(100))
    location: Mapped[str | None] = mapped_column(String(100))
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    # UUIDv5(company, source, "agents", external id) for agents that came from outside
    pid: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # `Type = Technical`: a queue, IVR or test line rather than a person; filterable
    is_technical: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    attributes: Mapped[dict[str, Any]] = mapped_column(
        JSONType, default=dict, server_default=text("'{}'")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ExternalAgent(Base):
    """Someone acting for another company in a conversation (a partner's agent, a
    carrier's operator): named in engagements, never a user of ours."""

    __tablename__ = "external_agents"
    __table_args__ = (UniqueConstraint("company_id", "pid", name="uq_external_agents_pid"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    pid: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    source: Mapped[str] = mapped_column(String(40), default="manual")
    external_id: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    organization: Mapped[str | None] = mapped_column(String(100))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Activity(Base):
    """One span of an agent's status (available, on a call, wrap-up, break, offline...)."""

    __tablename__ = "activities"
    __table_args__ = (
        UniqueConstraint("company_id", "pid", name="uq_activities_pid"),
        Index("ix_activities_agent_started", "company_id", "agent_id", "started_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    pid: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    source: Mapped[str] = mapped_column(String(40), default="manual")
    external_id: Mapped[str | None] = mapped_column(String(100))
    agent_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("agents.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_s: Mapped[float | None] = mapped_column(Float)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TechnicalLog(Base):
    """Warnings and errors an admin should see (trimmed values, failed deliveries...)."""

    __tablename__ = "technical_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    company_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    level: Mapped[str] = mapped_column(String(10), default="warning")
    source: Mapped[str] = mapped_column(String(60))
    message: Mapped[str] = mapped_column(Text)
    # which data set the message is about (agents, engagements, turns...), when one is
    data_set: Mapped[str | None] = mapped_column(String(40))
    # what produced it beyond `source`: an ingest batch id, a connector id...
    ref: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

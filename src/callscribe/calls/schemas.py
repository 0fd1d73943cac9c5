from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from callscribe.kit.schemas import OutModel


class AgentOut(OutModel):
    id: uuid.UUID
    name: str
    extension_id: str | None = None
    email: str | None = None


class TurnOut(OutModel):
    """`text` is masked: PII values read `[card]`, `[phone]` …; `POST
    /api/turns/{id}/reveal` with a value's index shows one (with `pii.reveal`)."""

    id: int
    seq: int
    role: str
    speaker: str | None
    channel: int | None
    start_ms: int
    end_ms: int
    text: str


class SectionOut(OutModel):
    heading: str
    bullets: list[str]


class MinutesOut(OutModel):
    subject: str
    summary: str
    overview: str
    sentiment: str
    outcome: str
    sections: list[SectionOut]
    notes: list[str]
    tags: list[str]
    analyzer: str
    created_at: datetime


class ActionItemOut(OutModel):
    id: uuid.UUID
    call_id: uuid.UUID = Field(validation_alias=AliasChoices("engagement_id", "call_id"))
    title: str
    priority: str
    status: str
    owner: str | None
    due: str | None
    created_at: datetime
    updated_at: datetime


class ActionItemPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["open", "done"] | None = None
    priority: Literal["high", "medium", "low"] | None = None
    title: str | None = Field(None, min_length=1, max_length=300)


class CallSummaryOut(OutModel):
    """Read from the engagement; `agent`, the Minutes' subject, sentiment and outcome
    and the signed `audio_url` come from elsewhere (see calls.api.summary_out)."""

    id: uuid.UUID
    status: str
    status_reason: str | None
    progress: float
    error: str | None
    channel: str
    source: str
    external_id: str | None
    direction: str | None
    agent: AgentOut | None = None
    customer_name: str | None
    customer_phone: str | None
    worker_id: str | None  # the seed API's order_id: a documented name, keep it
    started_at: datetime | None
    duration_seconds: float | None = Field(
        validation_alias=AliasChoices("duration_s", "duration_seconds")
    )
    subject: str | None = None
    sentiment: str | None = None
    outcome: str | None = None
    created_at: datetime
    completed_at: datetime | None
    processing_time_ms: int | None
    audio_url: str | None = None


class ResponseTimeOut(BaseModel):
    avg: float
    max: float


class StatsOut(BaseModel):
    """Conversation stats (speech.stats; docs/conversation-stats.md): seconds, shares
    0..1 and counts by role; null where not meaningful (a chat's talk time) or not
    computable (interruptions without real turn times)."""

    talk_s: dict[str, float] | None = None
    talk_ratio: dict[str, float | None] | None = None
    longest_monologue_s: dict[str, float] | None = None
    interruptions: dict[str, int] | None = None
    silence_share: float | None = None
    hold_s: float | None = None
    response_time_s: dict[str, ResponseTimeOut | None] | None = None
    wpm: dict[str, float | None] | None = None
    questions: dict[str, int] | None = None


class CallOut(CallSummaryOut):
    attempts: int
    audio_format: str | None
    audio_filename: str | None
    audio_size: int | None
    audio_channels: int | None
    # `meta` on the row: `metadata` is SQLAlchemy's on every model class
    metadata: dict[str, Any] = Field(default_factory=dict, validation_alias="meta")
    turns: list[TurnOut] = []
    minutes: MinutesOut | None = None
    action_items: list[ActionItemOut] = []
    stats: StatsOut | None = None  # null until the Stats step ran

    @field_validator("metadata", mode="before")
    @classmethod
    def no_meta_is_empty(cls, v: Any) -> Any:
        return v or {}


class DocumentedPage(BaseModel):
    """The paging fields of the documented /api/calls and /api/action-items answers
    (items under a named key, with `success`). New lists answer kit.schemas.Page."""

    success: bool = True
    total: int
    page: int
    page_size: int


class CallPage(DocumentedPage):
    calls: list[CallSummaryOut]


class ActionItemPage(DocumentedPage):
    action_items: list[ActionItemOut]


class RevealIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    index: int = Field(0, ge=0, le=10_000, description="which masked value of the turn, 0-based")


class RevealOut(BaseModel):
    kind: str
    text: str


class RevealLogOut(OutModel):
    """One reveal: who, what kind, where, when (never the value)."""

    id: uuid.UUID
    actor: str
    kind: str
    engagement_id: uuid.UUID
    turn_id: int | None
    created_at: datetime

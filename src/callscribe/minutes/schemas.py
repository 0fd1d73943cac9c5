"""Pydantic shapes of the minutes domain: what an analyzer takes in (turns and a
context) and what it hands back (a MinutesDraft the service stores)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Sentiment = Literal["positive", "neutral", "negative", "mixed"]
SENTIMENTS: tuple[str, ...] = ("positive", "neutral", "negative", "mixed")

DEFAULT_OUTCOME_LABELS: list[str] = [
    "resolved",
    "follow-up needed",
    "escalated",
    "sale",
    "no sale",
    "voicemail",
    "unresolved",
    "informational",
]


class Section(BaseModel):
    heading: str
    bullets: list[str]


class ActionItemDraft(BaseModel):
    title: str
    priority: Literal["high", "medium", "low"] = "medium"
    status: Literal["open", "done"] = "open"
    owner: str | None = None  # "agent" / "customer" / a person's name
    due: str | None = None  # ISO date when resolvable from the call date, else the phrase


class MinutesDraft(BaseModel):
    subject: str
    summary: str
    overview: str = ""
    sentiment: Sentiment
    outcome: str
    sections: list[Section] = []
    action_items: list[ActionItemDraft] = []
    notes: list[str] = []
    tags: list[str] = []


class TurnIn(BaseModel):
    role: Literal["agent", "customer", "bot", "unknown"]
    text: str
    start_ms: int = 0
    end_ms: int = 0
    speaker: str | None = None


class AnalysisContext(BaseModel):
    model_config = ConfigDict(frozen=False)

    outcome_labels: list[str] = Field(default_factory=lambda: list(DEFAULT_OUTCOME_LABELS))
    channel: str = "voice"
    agent_name: str | None = None
    customer_name: str | None = None
    started_at: datetime | None = None  # resolves "tomorrow", "by Friday" into dates
    language: str = "en"
    duration_s: float | None = None  # the call's length as pages and exports show it
    times_real: bool = True  # False: turn times are a made-up clock (calls.service)


# -- company AI and speech settings ------------------------------------------------------


class AISettingsOut(BaseModel):
    ai_engine: str
    ai_provider: str | None
    ai_base_url: str | None
    ai_model: str | None
    ai_api_key_set: bool
    ai_api_key_last4: str | None
    speech_engine: str
    speech_model: str | None
    speech_base_url: str | None
    speech_api_key_set: bool
    speech_language: str | None
    outcome_labels: list[str]
    channel_roles: dict[str, dict[str, str]]
    redact_pii: bool
    conversation_window_min: int = 30
    # an unreachable AI endpoint: Minutes from the built-in analyzer instead of a failed call
    ai_fallback_local: bool = False


class AISettingsIn(BaseModel):
    """Fields left out are unchanged. `ai_api_key: ""` removes the key."""

    model_config = ConfigDict(extra="forbid")

    ai_engine: Literal["local", "openai"] | None = None
    ai_provider: Literal["openai", "mistral", "custom"] | None = None
    ai_base_url: str | None = Field(None, max_length=500)
    ai_model: str | None = Field(None, max_length=200)
    ai_api_key: str | None = Field(None, max_length=500)
    speech_engine: Literal["faster-whisper", "openai"] | None = None
    speech_model: str | None = Field(None, max_length=200)
    speech_base_url: str | None = Field(None, max_length=500)
    speech_api_key: str | None = Field(None, max_length=500)
    speech_language: str | None = Field(None, max_length=16)
    outcome_labels: list[str] | None = Field(None, min_length=1, max_length=50)
    channel_roles: (
        dict[str, dict[Literal["0", "1"], Literal["agent", "customer", "bot"]]] | None
    ) = None
    redact_pii: bool | None = None
    conversation_window_min: int | None = Field(
        None,
        ge=0,
        le=24 * 60,
        description="Minutes: a transfer or callback this soon after the last engagement "
        "with the same customer and source joins its conversation",
    )
    ai_fallback_local: bool | None = None

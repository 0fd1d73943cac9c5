from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


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

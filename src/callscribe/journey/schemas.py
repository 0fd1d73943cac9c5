"""Shapes of the journey API: `GET /api/customers/{id}/journey` and
`POST /api/engagements/{id}/ask`."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class HandledBy(StrEnum):
    HUMAN = "human"
    BOT = "bot"


class JourneyCustomerOut(BaseModel):
    id: uuid.UUID
    pid: uuid.UUID | None
    label: str


class JourneyTurnOut(BaseModel):
    id: int
    seq: int
    role: str
    participant: str = Field(description='The agent or bot name, or "Customer"')
    text: str
    start_ms: int = Field(description="Offset in the engagement")
    at: datetime | None = Field(description="When it was said or sent; null when not known")
    response_ms: int | None = Field(
        description="Time since the other party's last turn; only where the times are "
        "real (audio segment timestamps, messages with sent_at)"
    )


class JourneyEngagementOut(BaseModel):
    id: uuid.UUID
    channel: str
    queue: str | None
    agent_name: str | None
    handled_by: HandledBy
    outcome: str | None
    started_at: datetime | None
    turns: list[JourneyTurnOut]
    trackers: dict[str, int] = Field(
        default_factory=dict, description="tracker name -> matches (calls.trackers), those > 0"
    )


class JourneyConversationOut(BaseModel):
    id: uuid.UUID | None = Field(
        description="null for an engagement stored outside the ingest path (never grouped)"
    )
    started_at: datetime | None
    direction: str | None
    channels: list[str]
    engagements: list[JourneyEngagementOut]


class JourneyOut(BaseModel):
    customer: JourneyCustomerOut
    conversations: list[JourneyConversationOut]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customer": {
                        "id": "0b5c7f5e-6d1a-4a53-9a43-0d7f3f1c2b10",
                        "pid": None,
                        "label": "Crystal Minh",
                    },
                    "conversations": [
                        {
                            "id": "7d4c2a8e-0a57-4f38-8f3c-52d1e9b0f0aa",
                            "started_at": "2026-11-20T14:00:00Z",
                            "direction": "inbound",
                            "channels": ["chat"],
                            "engagements": [
                                {
                                    "id": "c0a8f3c2-4c8e-4b5b-9f9e-1a2b3c4d5e6f",
                                    "channel": "chat",
                                    "queue": "returns",
                                    "agent_name": "Sam Agent",
                                    "handled_by": "human",
                                    "outcome": "resolved",
                                    "started_at": "2026-11-20T14:00:00Z",
                                    "turns": [
                                        {
                                            "id": 1,
                                            "seq": 0,
                                            "role": "customer",
                                            "participant": "Customer",
                                            "text": "I need to return an item.",
                                            "start_ms": 0,
                                            "at": "2026-11-20T14:00:00Z",
                                            "response_ms": None,
                                        },
                                        {
                                            "id": 2,
                                            "seq": 1,
                                            "role": "agent",
                                            "participant": "Sam Agent",
                                            "text": "Sure, may I have your order ID?",
                                            "start_ms": 40000,
                                            "at": "2026-11-20T14:00:40Z",
                                            "response_ms": 40000,
                                        },
                                    ],
                                }
                            ],
                        }
                    ],
                }
            ]
        }
    )


class SimilarTurnOut(BaseModel):
    """A turn like the selected one (search's SearchHit, as the action pane shows it)."""

    turn_id: int
    engagement_id: uuid.UUID
    score: float
    highlight: str = Field(description="The turn's text, HTML-escaped, matches in <mark>")


class AskIn(BaseModel):
    prompt: str = Field(..., min_length=1, max_length=2000)
    detail: Literal["concise", "detailed"] = "concise"

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [{"prompt": "Why did the customer call?", "detail": "concise"}]
        },
    )


class AskOut(BaseModel):
    answer: str
    engine: Literal["llm", "local"] = Field(
        description="llm: the company's AI endpoint; local: extractive, the engagement's "
        "own turns that match the prompt best"
    )
    sources: list[int] = Field(description="Ids of the turns the answer rests on")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "answer": "The customer wants to return jeans of the wrong size.",
                    "engine": "llm",
                    "sources": [3, 8],
                }
            ]
        }
    )

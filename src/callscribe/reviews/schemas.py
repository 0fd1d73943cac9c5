"""Request and response shapes of the reviews API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from callscribe.kit.schemas import OutModel
from callscribe.reviews.models import Level, Polarity, QuestionKind, SectionKind

LevelName = Literal["engagement", "customer_turn", "agent_turn", "bot_turn"]
assert set(LevelName.__args__) == {lv.value for lv in Level}  # type: ignore[attr-defined]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TagIn(Strict):
    name: str = Field(min_length=1, max_length=100)
    polarity: Polarity = Polarity.NEUTRAL
    levels: list[LevelName] = Field(min_length=1, max_length=4)
    description: str = Field("", max_length=2000)

    @field_validator("name")
    @classmethod
    def _stripped(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Card arrival",
                    "polarity": "neutral",
                    "levels": ["customer_turn"],
                    "description": "The customer asks where their card is.",
                }
            ]
        },
    )


class TagOut(OutModel):
    id: uuid.UUID
    name: str
    polarity: str
    levels: list[str]
    description: str
    builtin: bool
    auto_enabled: bool
    created_at: datetime


class ChoiceIn(Strict):
    label: str = Field(min_length=1, max_length=200)
    score: float = Field(1.0, ge=0.0, le=1.0)


class QuestionIn(Strict):
    text: str = Field(min_length=1, max_length=500)
    kind: QuestionKind
    choices: list[ChoiceIn] = Field(default_factory=list, max_length=50)
    weight: float = Field(1.0, gt=0.0, le=100.0)
    allow_na: bool = False
    critical: bool = False
    root_causes: list[str] = Field(default_factory=list, max_length=50)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"text": "Did the agent greet the customer?", "kind": "binary", "weight": 1}
            ]
        },
    )


class QuestionOut(OutModel):
    id: uuid.UUID
    text: str
    kind: str
    choices: list[dict[str, Any]]
    weight: float
    allow_na: bool
    critical: bool
    root_causes: list[str]


class SectionIn(Strict):
    title: str = Field(min_length=1, max_length=200)
    kind: SectionKind = SectionKind.STANDARD
    weight: float = Field(1.0, gt=0.0, le=100.0)
    question_ids: list[uuid.UUID] = Field(min_length=1, max_length=100)


class FormIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    levels: list[LevelName] = Field(min_length=1, max_length=4)
    sections: list[SectionIn] = Field(min_length=1, max_length=50)


class FormOut(OutModel):
    id: uuid.UUID
    name: str
    levels: list[str]
    sections: list[dict[str, Any]]
    version: int
    updated_at: datetime


class ReviewIn(Strict):
    engagement_id: uuid.UUID
    turn_id: int | None = Field(None, ge=1, le=2**31 - 1)
    tag_id: uuid.UUID | None = None
    form_id: uuid.UUID | None = None
    answers: dict[str, Any] | None = None
    comment: str = Field("", max_length=5000)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "engagement_id": "6f1c2a52-3b7e-4f7d-9a55-0d2b8b1e4a10",
                    "turn_id": 42,
                    "tag_id": "2b1e8f3c-1d4a-4e5b-8c9d-7a6f5e4d3c2b",
                    "comment": "Asked for the card's arrival date.",
                }
            ]
        },
    )


class HistoryOut(OutModel):
    kind: str
    actor_user_id: uuid.UUID | None
    comment: str
    data: dict[str, Any]
    created_at: datetime


class TagRef(OutModel):
    id: uuid.UUID
    name: str
    polarity: str


class ReviewOut(BaseModel):
    id: uuid.UUID
    engagement_id: uuid.UUID
    turn_id: int | None
    tag_id: uuid.UUID | None
    tag: TagRef | None
    form_id: uuid.UUID | None
    form_version: int | None
    answers: dict[str, Any]
    score: float | None
    auto_failed: bool
    comment: str
    reviewer: dict[str, Any]  # {"kind": "ai"} or {"kind": "human", "user_id", "name"}
    confidence: float | None
    # an AI review of a tag with the LLM judge: {"verdict": "confirmed"|"unavailable", ...}
    judge: dict[str, Any] | None = None
    status: str
    verdict: str | None
    frozen: bool
    proposed_answers: dict[str, Any] | None
    history: list[HistoryOut]
    created_at: datetime


class FeedbackIn(Strict):
    verdict: Literal["correct", "incorrect", "unclear"]


class DisputeIn(Strict):
    comment: str = Field(min_length=1, max_length=5000)
    answers: dict[str, Any] | None = None


class ResolveIn(Strict):
    outcome: Literal["accepted", "partly_accepted", "rejected"]
    comment: str = Field("", max_length=5000)
    answers: dict[str, Any] | None = None


class AutoReviewIn(Strict):
    enabled: bool
    # the classifier's candidates confirmed by the company's LLM (None: left as it is)
    llm_judge: bool | None = None


class AutoReviewOut(BaseModel):
    status: Literal["needs_examples", "training", "running", "ready"]
    examples: int
    precision: float | None
    recall: float | None
    flagged: int


class ModelVersionOut(OutModel):
    version: int
    examples: int
    negatives: int
    precision: float
    recall: float
    f1: float
    threshold: float
    judge_precision: float | None  # the LLM judge's out-of-fold figures (None: no judge)
    judge_recall: float | None
    judge_model: str | None
    flagged: int
    backfill_done: int
    backfill_total: int
    created_at: datetime


class CalibrationIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    form_id: uuid.UUID
    engagement_ids: list[uuid.UUID] = Field(min_length=1, max_length=100)
    expert_user_id: uuid.UUID


class CalibrationOut(OutModel):
    id: uuid.UUID
    name: str
    form_version_id: uuid.UUID
    engagement_ids: list[str]
    expert_user_id: uuid.UUID


class CalibrationAnswersIn(Strict):
    engagement_id: uuid.UUID
    answers: dict[str, Any]


class AgreementOut(OutModel):
    question_id: str
    text: str
    pairs: int
    percent_agreement: float | None
    ac1: float | None

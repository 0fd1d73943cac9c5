"""Tables of quality assurance: tags, questions, forms (with frozen versions), reviews by
people or the AI with their history (approve, dispute, resolve, feedback), the versioned
auto-review classifiers of a tag, and calibration sessions."""

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
)
from sqlalchemy import false as sql_false
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column

from callscribe.db import Base, JSONType, UTCDateTime, new_id, utcnow


class Polarity(StrEnum):
    POSITIVE = "positive"
    NEGATIVE = "negative"
    NEUTRAL = "neutral"


class Level(StrEnum):
    """Where a tag or a form may be used."""

    ENGAGEMENT = "engagement"
    CUSTOMER_TURN = "customer_turn"
    AGENT_TURN = "agent_turn"
    BOT_TURN = "bot_turn"


class BuiltinTag(StrEnum):
    REVIEWED = "Reviewed"  # a whole engagement reviewed: counts toward review coverage
    BOOKMARK = "Bookmark"  # a turn or an engagement marked for later


class QuestionKind(StrEnum):
    BINARY = "binary"
    SCALE3 = "scale3"
    SCALE4 = "scale4"
    SCALE5 = "scale5"
    SINGLE = "single_choice"
    MULTIPLE = "multiple_choice"
    TEXT = "text"


class SectionKind(StrEnum):
    STANDARD = "standard"
    BONUS = "bonus"  # adds on top: may lift the score above 100 %
    AUTO_FAIL = "auto_fail"  # any failed answer in it makes the score 0


class ReviewerKind(StrEnum):
    HUMAN = "human"
    AI = "ai"


class ReviewStatus(StrEnum):
    SUBMITTED = "submitted"  # a human review, as written
    APPROVED = "approved"  # the agent reviewed (or a manager) agreed
    DISPUTED = "disputed"  # waiting for a manager
    ACCEPTED = "accepted"  # dispute accepted: proposed answers applied
    PARTLY_ACCEPTED = "partly_accepted"
    REJECTED = "rejected"  # dispute rejected: the scores are frozen
    FLAGGED = "flagged"  # an AI review of the current model
    WITHDRAWN = "withdrawn"  # an AI review a later model no longer flags (kept: it has feedback)


class Verdict(StrEnum):
    """People's feedback on an AI review."""

    CORRECT = "correct"
    INCORRECT = "incorrect"
    UNCLEAR = "unclear"


class AutoStatus(StrEnum):
    NEEDS_EXAMPLES = "needs_examples"
    TRAINING = "training"
    RUNNING = "running"  # trained; the backfill over existing turns is under way
    READY = "ready"


class EventKind(StrEnum):
    APPROVED = "approved"
    DISPUTED = "disputed"
    RESOLVED = "resolved"
    FEEDBACK = "feedback"


class Tag(Base):
    __tablename__ = "review_tags"
    __table_args__ = (UniqueConstraint("company_id", "name", name="uq_review_tags_name"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    polarity: Mapped[str] = mapped_column(String(10), default=Polarity.NEUTRAL.value)
    levels: Mapped[list[str]] = mapped_column(JSONType, default=list)
    description: Mapped[str] = mapped_column(Text, default="")
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    auto_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # the classifier's candidates are confirmed by the company's LLM (when one is set)
    llm_judge: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sql_false())
    auto_status: Mapped[str] = mapped_column(String(20), default=AutoStatus.NEEDS_EXAMPLES.value)
    auto_error: Mapped[str | None] = mapped_column(String(300))
    # when a training was last asked for: the sweep re-asks when its job was lost
    auto_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Question(Base):
    __tablename__ = "review_questions"
    __table_args__ = (UniqueConstraint("company_id", "pid", name="uq_review_questions_pid"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    # items from an ingest batch: UUIDv5(company, source, data set, id), so re-sent
    # ones update; `source` is the ingestion source, `external_id` the item's own id
    pid: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    source: Mapped[str | None] = mapped_column(String(40))
    external_id: Mapped[str | None] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(20))
    # single/multiple choice: [{"label", "score" 0..1}]
    choices: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    allow_na: Mapped[bool] = mapped_column(Boolean, default=False)
    critical: Mapped[bool] = mapped_column(Boolean, default=False)  # a failed answer: score 0
    root_causes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Form(Base):
    """The editable form; each save writes a FormVersion that reviews point at."""

    __tablename__ = "review_forms"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    levels: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # [{"title", "kind", "weight", "question_ids": [...]}]
    sections: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class FormVersion(Base):
    """A form as it was when saved, its questions copied in: what a review is scored by."""

    __tablename__ = "review_form_versions"
    __table_args__ = (UniqueConstraint("form_id", "version", name="uq_review_form_versions"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    form_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("review_forms.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    # {"name", "levels", "sections": [{"title", "kind", "weight", "questions": [question]}]}
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CalibrationSession(Base):
    """Several reviewers score the same engagements with one form, blind; agreement per
    question against the expert's answers."""

    __tablename__ = "review_calibrations"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    form_version_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("review_form_versions.id", ondelete="CASCADE")
    )
    engagement_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    expert_user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AutoReviewModel(Base):
    """One training of a tag's classifier: its cross-validated figures and the classifier
    itself as plain numbers (coefficients, intercept, threshold), never a pickle."""

    __tablename__ = "review_auto_models"
    __table_args__ = (UniqueConstraint("tag_id", "version", name="uq_review_auto_models"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    tag_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("review_tags.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    examples: Mapped[int] = mapped_column(Integer)  # positive turns
    negatives: Mapped[int] = mapped_column(Integer)
    precision: Mapped[float] = mapped_column(Float)  # out-of-fold, at the threshold
    recall: Mapped[float] = mapped_column(Float)
    f1: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    # the LLM judge's out-of-fold figures (the classifier's candidates it confirmed);
    # None when the tag has no judge or no LLM was set when this version was trained
    judge_precision: Mapped[float | None] = mapped_column(Float)
    judge_recall: Mapped[float | None] = mapped_column(Float)
    judge_model: Mapped[str | None] = mapped_column(String(200))
    embedder: Mapped[str] = mapped_column(String(80))
    # {"coef": [...], "intercept": float}
    classifier: Mapped[dict[str, Any]] = mapped_column(JSONType)
    flagged: Mapped[int] = mapped_column(Integer, default=0)  # turns flagged by this version
    backfill_done: Mapped[int] = mapped_column(Integer, default=0)  # engagements
    backfill_total: Mapped[int] = mapped_column(Integer, default=0)
    progress_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # last backfill chunk
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Review(Base):
    """A tag or a set of answers on an engagement or one of its turns, by a person or the
    AI. A form review points at the FormVersion it was scored by."""

    __tablename__ = "reviews"
    __table_args__ = (
        Index("ix_reviews_engagement", "engagement_id"),
        Index("ix_reviews_company_tag", "company_id", "tag_id", "reviewer_kind"),
        UniqueConstraint("company_id", "pid", name="uq_reviews_pid"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    # items from an ingest batch: UUIDv5(company, source, data set, id), so re-sent
    # ones update; `source` is the ingestion source, `external_id` the item's own id
    pid: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    source: Mapped[str | None] = mapped_column(String(40))
    external_id: Mapped[str | None] = mapped_column(String(100))
    engagement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("engagements.id", ondelete="CASCADE")
    )
    # a call transcribed again loses its turns: the review stays (turn_id NULL) with
    # `anchor` ({role, seq, start_ms, end_ms}) and is put back on the new turn there
    turn_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("turns.id", ondelete="SET NULL"), index=True
    )
    anchor: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # an AI review's LLM judge: {"verdict": confirmed | unavailable, "model", "error"?}
    judge: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    tag_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("review_tags.id", ondelete="CASCADE")
    )
    form_version_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("review_form_versions.id", ondelete="SET NULL")
    )
    form_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    calibration_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("review_calibrations.id", ondelete="CASCADE"), index=True
    )
    answers: Mapped[dict[str, Any]] = mapped_column(
        JSONType, default=dict, server_default=sql_text("'{}'")
    )
    score: Mapped[float | None] = mapped_column(Float)  # percent; None without scored answers
    auto_failed: Mapped[bool] = mapped_column(Boolean, default=False)
    comment: Mapped[str] = mapped_column(Text, default="")
    reviewer_kind: Mapped[str] = mapped_column(String(10), default=ReviewerKind.HUMAN.value)
    reviewer_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    reviewer_name: Mapped[str | None] = mapped_column(String(200))
    confidence: Mapped[float | None] = mapped_column(Float)  # AI: the classifier's probability
    model_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("review_auto_models.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(20), default=ReviewStatus.SUBMITTED.value)
    frozen: Mapped[bool] = mapped_column(Boolean, default=False)  # a rejected dispute
    verdict: Mapped[str | None] = mapped_column(String(10))  # feedback on an AI review
    # the dispute's proposed answers, until resolved
    proposed_answers: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ReviewEvent(Base):
    """The history of a review: approvals, disputes, resolutions, feedback."""

    __tablename__ = "review_events"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    review_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("reviews.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    comment: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

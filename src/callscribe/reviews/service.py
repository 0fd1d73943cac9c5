"""Quality assurance (no HTTP): tags, questions, forms and their frozen versions, reviews
by people and by the AI, approve / dispute / resolve with history, feedback on AI
reviews, auto review (training, backfill, the pipeline's AutoReview step), coverage and
calibration agreement.

Scoping: every object belongs to a company; another company's is not found (404). A
principal who sees only their own agent's engagements (`calls.view_all` missing) sees
only those engagements' reviews."""

from __future__ import annotations

import logging
import random
import uuid
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import delete, false, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callscribe.accounts import service as accounts_service
from callscribe.accounts.models import User
from callscribe.ai.llm import ChatClient, LLMFailed
from callscribe.auth.permissions import Permission
from callscribe.auth.principal import Principal
from callscribe.calls.models import Engagement, Minutes, Turn, TurnRole
from callscribe.db import after_commit, utcnow
from callscribe.errors import Conflict, Forbidden, NotFound, ValidationFailed
from callscribe.kit.pagination import paginate
from callscribe.kit.schemas import Page
from callscribe.minutes import service as minutes_service
from callscribe.queue import enqueue_named
from callscribe.reviews.autoreview import TrainedClassifier, judge, logistic, reliable_negatives
from callscribe.reviews.models import (
    AutoReviewModel,
    AutoStatus,
    BuiltinTag,
    CalibrationSession,
    EventKind,
    Form,
    FormVersion,
    Level,
    Polarity,
    Question,
    QuestionKind,
    Review,
    ReviewerKind,
    ReviewEvent,
    ReviewStatus,
    SectionKind,
    Tag,
    Verdict,
)
from callscribe.reviews.scoring import score_answers
from callscribe.search import service as search_service

log = logging.getLogger(__name__)

MIN_EXAMPLES = logistic.MIN_POSITIVES
NEGATIVE_SAMPLE = 1000  # random other turns drawn as negatives (before the nearest are dropped)
CONFIRMED_NEGATIVE_WEIGHT = 10.0  # a turn a person marked `incorrect` counts this many times
BACKFILL_CHUNK = 50  # engagements per transaction (and per embedding batch) of the backfill

ROLE_LEVEL = {
    TurnRole.CUSTOMER.value: Level.CUSTOMER_TURN.value,
    TurnRole.AGENT.value: Level.AGENT_TURN.value,
    TurnRole.BOT.value: Level.BOT_TURN.value,
}
TURN_LEVELS = [Level.CUSTOMER_TURN.value, Level.AGENT_TURN.value, Level.BOT_TURN.value]
BUILTINS = {
    BuiltinTag.REVIEWED: (
        Polarity.NEUTRAL,
        [Level.ENGAGEMENT.value],
        "The whole engagement was reviewed: counts toward review coverage.",
    ),
    BuiltinTag.BOOKMARK: (
        Polarity.NEUTRAL,
        [Level.ENGAGEMENT.value, *TURN_LEVELS],
        "Marked for later.",
    ),
}


def _level_of(turn: Turn | None) -> str:
    if turn is None:
        return Level.ENGAGEMENT.value
    return ROLE_LEVEL.get(turn.role, Level.CUSTOMER_TURN.value)


# -- tags ----------------------------------------------------------------------------------


def ensure_builtin_tags(session: Session, company_id: uuid.UUID) -> None:
    """`Reviewed` and `Bookmark`, created the first time a company's tags are used."""
    have = set(
        session.scalars(select(Tag.name).where(Tag.company_id == company_id, Tag.builtin.is_(True)))
    )
    for name, (polarity, levels, description) in BUILTINS.items():
        if name.value in have:
            continue
        try:
            with session.begin_nested():  # another request may be creating it right now
                session.add(
                    Tag(
                        company_id=company_id,
                        name=name.value,
                        polarity=polarity.value,
                        levels=levels,
                        description=description,
                        builtin=True,
                    )
                )
        except IntegrityError:
            continue  # it won: its row is the built-in


def create_tag(
    session: Session,
    company_id: uuid.UUID,
    *,
    name: str,
    polarity: str,
    levels: list[str],
    description: str = "",
) -> Tag:
    ensure_builtin_tags(session, company_id)
    name = name.strip()
    exists = session.scalar(select(Tag.id).where(Tag.company_id == company_id, Tag.name == name))
    if exists is not None:
        raise Conflict(f"A tag named {name!r} exists already.")
    tag = Tag(
        company_id=company_id,
        name=name,
        polarity=polarity,
        levels=list(dict.fromkeys(levels)),
        description=description,
    )
    session.add(tag)
    session.flush()
    return tag


def list_tags(session: Session, company_id: uuid.UUID) -> list[Tag]:
    ensure_builtin_tags(session, company_id)
    return list(
        session.scalars(
            select(Tag).where(Tag.company_id == company_id).order_by(Tag.builtin.desc(), Tag.name)
        )
    )


def get_tag(session: Session, company_id: uuid.UUID, tag_id: uuid.UUID) -> Tag:
    tag = session.get(Tag, tag_id)
    if tag is None or tag.company_id != company_id:
        raise NotFound("Tag not found.")
    return tag


def builtin_tag(session: Session, company_id: uuid.UUID, name: BuiltinTag) -> Tag:
    ensure_builtin_tags(session, company_id)
    tag = session.scalar(
        select(Tag).where(Tag.company_id == company_id, Tag.name == name.value, Tag.builtin)
    )
    assert tag is not None
    return tag


# -- questions and forms -------------------------------------------------------------------


def _check_question(kind: str, choices: list[dict[str, Any]]) -> None:
    if kind in (QuestionKind.SINGLE, QuestionKind.MULTIPLE):
        labels = [c["label"] for c in choices]
        if len(labels) < 2 or len(set(labels)) != len(labels):
            raise ValidationFailed("choices: a choice question needs 2 or more distinct labels.")
    elif choices:
        raise ValidationFailed(f"choices: only choice questions have choices, not {kind}.")


def create_question(session: Session, company_id: uuid.UUID, **fields: Any) -> Question:
    _check_question(fields["kind"], fields.get("choices") or [])
    question = Question(company_id=company_id, **fields)
    session.add(question)
    session.flush()
    return question


def update_question(
    session: Session, company_id: uuid.UUID, question_id: uuid.UUID, **fields: Any
) -> Question:
    """Changes the question for forms saved from now on: a saved form version (and every
    review scored by it) keeps the question as it was."""
    question = get_question(session, company_id, question_id)
    _check_question(fields["kind"], fields.get("choices") or [])
    for key, value in fields.items():
        setattr(question, key, value)
    session.flush()
    return question


def get_question(session: Session, company_id: uuid.UUID, question_id: uuid.UUID) -> Question:
    question = session.get(Question, question_id)
    if question is None or question.company_id != company_id:
        raise NotFound("Question not found.")
    return question


def list_questions(session: Session, company_id: uuid.UUID) -> list[Question]:
    return list(
        session.scalars(
            select(Question).where(Question.company_id == company_id).order_by(Question.created_at)
        )
    )


def _question_snapshot(q: Question) -> dict[str, Any]:
    return {
        "id": str(q.id),
        "text": q.text,
        "kind": q.kind,
        "choices": list(q.choices or []),
        "weight": q.weight,
        "allow_na": q.allow_na,
        "critical": q.critical,
        "root_causes": list(q.root_causes or []),
    }


def _snapshot(
    session: Session, company_id: uuid.UUID, name: str, levels: list[str], sections: list[dict]
) -> dict[str, Any]:
    ids = {uuid.UUID(str(qid)) for s in sections for qid in s["question_ids"]}
    found = {
        q.id: q
        for q in session.scalars(
            select(Question).where(Question.id.in_(ids), Question.company_id == company_id)
        )
    }
    missing = ids - set(found)
    if missing:
        raise ValidationFailed(f"sections: question {sorted(map(str, missing))[0]} not found.")
    out = []
    for s in sections:
        if s["kind"] == SectionKind.AUTO_FAIL:
            for qid in s["question_ids"]:
                if found[uuid.UUID(str(qid))].kind == QuestionKind.TEXT:
                    raise ValidationFailed("sections: an auto-fail section has no text questions.")
        out.append(
            {
                "title": s["title"],
                "kind": s["kind"],
                "weight": float(s["weight"]),
                "questions": [
                    _question_snapshot(found[uuid.UUID(str(q))]) for q in s["question_ids"]
                ],
            }
        )
    return {"name": name, "levels": levels, "sections": out}


def _plain_sections(sections: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "title": s["title"],
            "kind": str(s["kind"]),
            "weight": float(s["weight"]),
            "question_ids": [str(q) for q in s["question_ids"]],
        }
        for s in sections
    ]


def create_form(
    session: Session, company_id: uuid.UUID, *, name: str, levels: list[str], sections: list[dict]
) -> Form:
    sections = _plain_sections(sections)
    snapshot = _snapshot(session, company_id, name, levels, sections)
    form = Form(company_id=company_id, name=name, levels=levels, sections=sections, version=1)
    session.add(form)
    session.flush()
    session.add(FormVersion(company_id=company_id, form_id=form.id, version=1, snapshot=snapshot))
    session.flush()
    return form


def update_form(
    session: Session,
    company_id: uuid.UUID,
    form_id: uuid.UUID,
    *,
    name: str,
    levels: list[str],
    sections: list[dict],
) -> Form:
    """A new version of the form; reviews scored by an earlier one keep their score."""
    form = get_form(session, company_id, form_id)
    sections = _plain_sections(sections)
    snapshot = _snapshot(session, company_id, name, levels, sections)
    form.name, form.levels, form.sections = name, levels, sections
    form.version += 1
    session.add(
        FormVersion(company_id=company_id, form_id=form.id, version=form.version, snapshot=snapshot)
    )
    session.flush()
    return form


def get_form(session: Session, company_id: uuid.UUID, form_id: uuid.UUID) -> Form:
    form = session.get(Form, form_id)
    if form is None or form.company_id != company_id:
        raise NotFound("Form not found.")
    return form


def list_forms(session: Session, company_id: uuid.UUID) -> list[Form]:
    return list(
        session.scalars(select(Form).where(Form.company_id == company_id).order_by(Form.name))
    )


def current_version(session: Session, form: Form) -> FormVersion:
    version = session.scalar(
        select(FormVersion).where(
            FormVersion.form_id == form.id, FormVersion.version == form.version
        )
    )
    assert version is not None
    return version


# -- reviews -------------------------------------------------------------------------------


def visible_engagement(
    session: Session, principal: Principal, engagement_id: uuid.UUID
) -> Engagement:
    engagement = session.get(Engagement, engagement_id)
    if engagement is None or engagement.company_id != principal.company_id:
        raise NotFound("Engagement not found.")
    if principal.sees_only_own_calls and (
        principal.agent_id is None or engagement.agent_id != principal.agent_id
    ):
        raise NotFound("Engagement not found.")
    return engagement


def _own_engagements(principal: Principal) -> Any:
    """The engagements of the principal's own agent (none for an agent user not linked
    to an agent record)."""
    stmt = select(Engagement.id).where(Engagement.company_id == principal.company_id)
    if principal.agent_id is None:
        return stmt.where(false())
    return stmt.where(Engagement.agent_id == principal.agent_id)


def _reviewer_name(session: Session, user_id: uuid.UUID | None) -> str | None:
    if user_id is None:
        return None
    user = session.get(User, user_id)
    return user.name if user is not None else None


def create_review(
    session: Session,
    principal: Principal,
    *,
    engagement_id: uuid.UUID,
    turn_id: int | None = None,
    tag_id: uuid.UUID | None = None,
    form_id: uuid.UUID | None = None,
    answers: dict[str, Any] | None = None,
    comment: str = "",
    calibration_id: uuid.UUID | None = None,
) -> Review:
    """A person's review: a tag, or a form's answers (scored by the form's current
    version, which the review keeps), on the engagement or one of its turns."""
    if tag_id is None and form_id is None:
        raise ValidationFailed("Give a tag_id or a form_id (with answers).")
    if answers and form_id is None:
        raise ValidationFailed("answers: give the form_id they answer.")
    engagement = visible_engagement(session, principal, engagement_id)
    turn = None
    if turn_id is not None:
        turn = session.get(Turn, turn_id)
        if turn is None or turn.engagement_id != engagement.id:
            raise NotFound("Turn not found in this engagement.")
    level = _level_of(turn)
    tag = None
    if tag_id is not None:
        tag = get_tag(session, principal.company_id, tag_id)
        if level not in (tag.levels or []):
            raise ValidationFailed(f"tag_id: the tag {tag.name!r} is not used on a {level}.")
    version, score = None, None
    if form_id is not None:
        form = get_form(session, principal.company_id, form_id)
        if level not in (form.levels or []):
            raise ValidationFailed(f"form_id: the form {form.name!r} is not used on a {level}.")
        version = current_version(session, form)
        score = score_answers(version.snapshot, answers or {})
    review = Review(
        company_id=principal.company_id,
        engagement_id=engagement.id,
        turn_id=turn.id if turn is not None else None,
        tag_id=tag.id if tag is not None else None,
        form_id=form_id,
        form_version_id=version.id if version is not None else None,
        answers=score.answers if score is not None else {},
        score=score.percent if score is not None else None,
        auto_failed=score.auto_failed if score is not None else False,
        comment=comment,
        reviewer_kind=ReviewerKind.HUMAN.value,
        reviewer_user_id=principal.user_id,
        reviewer_name=_reviewer_name(session, principal.user_id) or "API",
        status=ReviewStatus.SUBMITTED.value,
        calibration_id=calibration_id,
    )
    session.add(review)
    session.flush()
    if tag is not None and turn is not None and tag.auto_enabled and calibration_id is None:
        _request_training(session, tag)  # a new example: retrain
    return review


def get_review(session: Session, principal: Principal, review_id: uuid.UUID) -> Review:
    review = session.get(Review, review_id)
    if review is None or review.company_id != principal.company_id:
        raise NotFound("Review not found.")
    visible_engagement(session, principal, review.engagement_id)
    return review


def list_reviews(
    session: Session,
    principal: Principal,
    *,
    engagement_id: uuid.UUID | None = None,
    tag_id: uuid.UUID | None = None,
    reviewer: ReviewerKind | None = None,
    agent_id: uuid.UUID | None = None,
    page: int = 1,
    page_size: int = 50,
) -> Page[Review]:
    """The company's reviews (calibration sessions left out) the principal may see,
    newest first; `agent_id`: of that agent's engagements."""
    stmt = select(Review).where(
        Review.company_id == principal.company_id, Review.calibration_id.is_(None)
    )
    if agent_id is not None:
        stmt = stmt.where(
            Review.engagement_id.in_(select(Engagement.id).where(Engagement.agent_id == agent_id))
        )
    if engagement_id is not None:
        visible_engagement(session, principal, engagement_id)
        stmt = stmt.where(Review.engagement_id == engagement_id)
    elif principal.sees_only_own_calls:
        stmt = stmt.where(Review.engagement_id.in_(_own_engagements(principal)))
    if tag_id is not None:
        stmt = stmt.where(Review.tag_id == tag_id)
    if reviewer is not None:
        stmt = stmt.where(Review.reviewer_kind == reviewer.value)
    return paginate(session, stmt, page, page_size, order_by=(Review.created_at.desc(), Review.id))


def history_of(session: Session, review_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list]:
    ids = list(review_ids)
    out: dict[uuid.UUID, list[ReviewEvent]] = {i: [] for i in ids}
    if not ids:
        return out
    for event in session.scalars(
        select(ReviewEvent)
        .where(ReviewEvent.review_id.in_(ids))
        .order_by(ReviewEvent.created_at, ReviewEvent.id)
    ):
        out[event.review_id].append(event)
    return out


def _event(
    session: Session,
    review: Review,
    kind: EventKind,
    principal: Principal,
    comment: str = "",
    **data: Any,
) -> None:
    session.add(
        ReviewEvent(
            company_id=review.company_id,
            review_id=review.id,
            kind=kind.value,
            actor_user_id=principal.user_id,
            comment=comment,
            data=data,
        )
    )


def _check_reviewed_party(session: Session, principal: Principal, review: Review) -> None:
    """Approve and dispute are for the agent reviewed, or a manager (reviews.resolve)."""
    if review.reviewer_kind != ReviewerKind.HUMAN:
        raise ValidationFailed("An AI review gets feedback (correct/incorrect/unclear) instead.")
    if principal.can(Permission.REVIEWS_RESOLVE):
        return
    engagement = session.get(Engagement, review.engagement_id)
    if (
        principal.agent_id is None
        or engagement is None
        or engagement.agent_id != principal.agent_id
    ):
        raise Forbidden("Only the agent reviewed or a manager can approve or dispute this review.")


def approve_review(session: Session, principal: Principal, review_id: uuid.UUID) -> Review:
    review = get_review(session, principal, review_id)
    _check_reviewed_party(session, principal, review)
    if review.status not in (ReviewStatus.SUBMITTED, ReviewStatus.APPROVED):
        raise Conflict(f"A review that is {review.status} cannot be approved.")
    review.status = ReviewStatus.APPROVED.value
    _event(session, review, EventKind.APPROVED, principal)
    session.flush()
    return review


def dispute_review(
    session: Session,
    principal: Principal,
    review_id: uuid.UUID,
    *,
    comment: str,
    answers: dict[str, Any] | None = None,
) -> Review:
    review = get_review(session, principal, review_id)
    _check_reviewed_party(session, principal, review)
    if review.frozen:
        raise Conflict("A rejected dispute froze this review's scores.")
    if review.status not in (ReviewStatus.SUBMITTED, ReviewStatus.APPROVED):
        raise Conflict(f"A review that is {review.status} cannot be disputed.")
    if not comment.strip():
        raise ValidationFailed("comment: say what is wrong with the review.")
    proposed = None
    if answers:
        version = (
            session.get(FormVersion, review.form_version_id) if review.form_version_id else None
        )
        if version is None:
            raise ValidationFailed("answers: this review has no form to propose answers for.")
        merged = {**_plain_answers(review.answers), **answers}
        proposed = score_answers(version.snapshot, merged).answers
    review.status = ReviewStatus.DISPUTED.value
    review.proposed_answers = proposed
    _event(session, review, EventKind.DISPUTED, principal, comment, proposed_answers=proposed)
    session.flush()
    return review


def _plain_answers(answers: dict[str, Any]) -> dict[str, Any]:
    return dict(answers or {})


def resolve_dispute(
    session: Session,
    principal: Principal,
    review_id: uuid.UUID,
    *,
    outcome: ReviewStatus,
    comment: str = "",
    answers: dict[str, Any] | None = None,
) -> Review:
    """accepted: the proposed answers replace the review's; partly_accepted: `answers`
    (the manager's pick) are merged in, else the proposal is kept out; rejected: the
    scores freeze. Scored by the review's own form version."""
    if not principal.can(Permission.REVIEWS_RESOLVE):
        raise Forbidden("Only managers and admins resolve disputes.")
    review = get_review(session, principal, review_id)
    if review.status != ReviewStatus.DISPUTED:
        raise Conflict("Only a disputed review can be resolved.")
    new_answers: dict[str, Any] | None = None
    if outcome == ReviewStatus.ACCEPTED:
        new_answers = review.proposed_answers
    elif outcome == ReviewStatus.PARTLY_ACCEPTED and answers:
        new_answers = {**_plain_answers(review.answers), **answers}
    if new_answers is not None and review.form_version_id is not None:
        version = session.get(FormVersion, review.form_version_id)
        assert version is not None
        score = score_answers(version.snapshot, new_answers)
        review.answers, review.score, review.auto_failed = (
            score.answers,
            score.percent,
            score.auto_failed,
        )
    review.status = outcome.value
    review.frozen = outcome == ReviewStatus.REJECTED
    review.proposed_answers = None
    _event(
        session,
        review,
        EventKind.RESOLVED,
        principal,
        comment,
        outcome=outcome.value,
        score=review.score,
    )
    session.flush()
    return review


def give_feedback(
    session: Session, principal: Principal, review_id: uuid.UUID, verdict: Verdict
) -> Review:
    """People's verdict on an AI review; `incorrect` makes the turn a negative example and
    retrains the tag's classifier."""
    review = get_review(session, principal, review_id)
    if review.reviewer_kind != ReviewerKind.AI:
        raise ValidationFailed("Feedback is for AI reviews; approve or dispute a person's review.")
    review.verdict = verdict.value
    _event(session, review, EventKind.FEEDBACK, principal, verdict=verdict.value)
    session.flush()
    if verdict == Verdict.INCORRECT and review.tag_id is not None:
        tag = session.get(Tag, review.tag_id)
        if tag is not None and tag.auto_enabled:
            _request_training(session, tag)
    return review


# -- auto review ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AutoReviewState:
    status: str
    examples: int
    precision: float | None
    recall: float | None
    flagged: int


def example_turn_ids(session: Session, tag: Tag) -> list[int]:
    """Turns people tagged with the tag (its positive examples)."""
    return sorted(
        _ids(
            session.scalars(
                select(Review.turn_id).where(
                    Review.tag_id == tag.id,
                    Review.reviewer_kind == ReviewerKind.HUMAN.value,
                    Review.turn_id.is_not(None),
                    Review.calibration_id.is_(None),
                )
            )
        )
    )


def _ids(values: Iterable[int | None]) -> set[int]:
    return {v for v in values if v is not None}


def latest_model(session: Session, tag_id: uuid.UUID) -> AutoReviewModel | None:
    return session.scalar(
        select(AutoReviewModel)
        .where(AutoReviewModel.tag_id == tag_id)
        .order_by(AutoReviewModel.version.desc())
        .limit(1)
    )


def model_versions(session: Session, tag: Tag) -> list[AutoReviewModel]:
    return list(
        session.scalars(
            select(AutoReviewModel)
            .where(AutoReviewModel.tag_id == tag.id)
            .order_by(AutoReviewModel.version)
        )
    )


def flagged_count(session: Session, tag_id: uuid.UUID) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Review)
            .where(
                Review.tag_id == tag_id,
                Review.reviewer_kind == ReviewerKind.AI.value,
                Review.status == ReviewStatus.FLAGGED.value,
            )
        )
        or 0
    )


def auto_review_state(session: Session, tag: Tag) -> AutoReviewState:
    examples = len(example_turn_ids(session, tag))
    model = latest_model(session, tag.id)
    status = tag.auto_status
    if examples < MIN_EXAMPLES and model is None:
        status = AutoStatus.NEEDS_EXAMPLES.value
    return AutoReviewState(
        status=status,
        examples=examples,
        precision=model.precision if model is not None else None,
        recall=model.recall if model is not None else None,
        flagged=flagged_count(session, tag.id),
    )


def _request_training(session: Session, tag: Tag) -> None:
    if len(example_turn_ids(session, tag)) < MIN_EXAMPLES:
        tag.auto_status = AutoStatus.NEEDS_EXAMPLES.value
        return
    tag.auto_status = AutoStatus.TRAINING.value
    tag.auto_requested_at = utcnow()
    tag_id = str(tag.id)
    after_commit(session, lambda: enqueue_named("reviews.train", tag_id))


def set_auto_review(
    session: Session, tag: Tag, enabled: bool, *, llm_judge: bool | None = None
) -> AutoReviewState:
    """On or off; `llm_judge` (None: unchanged) has the company's LLM confirm the
    classifier's candidates. Switching on, or the judge changing, asks for a training
    (the judge's figures are made with it) and so a new backfill."""
    if not any(level in TURN_LEVELS for level in tag.levels or []):
        raise ValidationFailed("Auto review flags turns: this tag is used on engagements only.")
    judge_changed = llm_judge is not None and llm_judge != tag.llm_judge
    if llm_judge is not None:
        tag.llm_judge = llm_judge
    tag.auto_enabled = enabled
    if enabled or (judge_changed and tag.auto_enabled):
        _request_training(session, tag)
    session.flush()
    return auto_review_state(session, tag)


def _eligible_turns(session: Session, tag: Tag) -> Any:
    roles = [role for role, level in ROLE_LEVEL.items() if level in (tag.levels or [])]
    return select(Turn).where(Turn.company_id == tag.company_id, Turn.role.in_(roles))


# -- a call transcribed again -------------------------------------------------------------


def detach_turn_reviews(session: Session, engagement_id: uuid.UUID) -> int:
    """Before an engagement's turns are replaced (transcribed again): each review of a
    turn keeps where that turn was (`anchor`) and loses its turn_id when the turn goes;
    the AI's flags nobody gave feedback on are dropped (the AutoReview step makes them
    again from the new turns). Returns the reviews kept for `reattach_turn_reviews`."""
    rows = session.execute(
        select(Review, Turn)
        .join(Turn, Turn.id == Review.turn_id)
        .where(Review.engagement_id == engagement_id)
    ).all()
    kept = 0
    for review, turn in rows:
        if review.reviewer_kind == ReviewerKind.AI.value and review.verdict is None:
            session.delete(review)
            continue
        review.anchor = {
            "role": turn.role,
            "seq": turn.seq,
            "start_ms": turn.start_ms,
            "end_ms": turn.end_ms,
        }
        kept += 1
    session.flush()
    return kept


def reattach_turn_reviews(session: Session, engagement_id: uuid.UUID) -> int:
    """After new turns were written: each review detached from its turn goes on the new
    turn of the same role that overlaps its old time most (else the nearest in time of
    that role, else of any role); with no turns at all it stays on the engagement.
    Returns the reviews put back."""
    detached = list(
        session.scalars(
            select(Review).where(
                Review.engagement_id == engagement_id,
                Review.turn_id.is_(None),
                Review.anchor.is_not(None),
            )
        )
    )
    if not detached:
        return 0
    turns = list(
        session.scalars(select(Turn).where(Turn.engagement_id == engagement_id).order_by(Turn.seq))
    )
    if not turns:
        return 0
    for review in detached:
        turn = _turn_at(turns, review.anchor or {})
        review.turn_id, review.anchor = turn.id, None
    session.flush()
    return len(detached)


def _turn_at(turns: list[Turn], anchor: dict[str, Any]) -> Turn:
    start, end = int(anchor.get("start_ms") or 0), int(anchor.get("end_ms") or 0)
    end = max(end, start)
    same_role = [t for t in turns if t.role == anchor.get("role")] or turns

    def overlap(t: Turn) -> int:
        return max(0, min(end, t.end_ms) - max(start, t.start_ms))

    def distance(t: Turn) -> int:
        return abs((t.start_ms + t.end_ms) // 2 - (start + end) // 2)

    best = max(same_role, key=lambda t: (overlap(t), -distance(t)))
    return best


@dataclass
class TrainingSet:
    positives: list[Turn]
    known: list[Turn]  # the examples' engagements' other turns, and turns marked incorrect
    confirmed: set[int]  # of `known`: the turns marked incorrect
    sample: list[Turn]  # a random sample of the rest


def training_set(session: Session, tag: Tag, seed: int) -> TrainingSet:
    """The positives (people's tags) and the candidate negatives of a training."""
    positive_ids = set(example_turn_ids(session, tag))
    positives = list(
        session.scalars(select(Turn).where(Turn.id.in_(positive_ids)).order_by(Turn.id))
    )
    eligible = _eligible_turns(session, tag)
    engagements = {t.engagement_id for t in positives}
    incorrect_ids = _ids(
        session.scalars(
            select(Review.turn_id).where(
                Review.tag_id == tag.id,
                Review.reviewer_kind == ReviewerKind.AI.value,
                Review.verdict == Verdict.INCORRECT.value,
            )
        )
    )
    known = list(
        session.scalars(
            eligible.where(
                Turn.engagement_id.in_(engagements) | Turn.id.in_(incorrect_ids)
            ).order_by(Turn.id)
        )
    )
    known = [t for t in known if t.id not in positive_ids]
    taken = positive_ids | {t.id for t in known}
    rest = [
        i
        for i in session.scalars(eligible.with_only_columns(Turn.id).order_by(Turn.id))
        if i not in taken
    ]
    sample_ids = random.Random(seed).sample(rest, min(NEGATIVE_SAMPLE, len(rest)))
    sample = list(session.scalars(select(Turn).where(Turn.id.in_(sample_ids)).order_by(Turn.id)))
    return TrainingSet(positives, known, incorrect_ids - positive_ids, sample)


def train_tag(session: Session, tag_id: uuid.UUID) -> AutoReviewModel | None:
    """Train a new version of the tag's classifier (None when it has too few examples)."""
    tag = session.get(Tag, tag_id)
    if tag is None or not tag.auto_enabled:  # switched off since the job was queued
        return None
    previous = latest_model(session, tag.id)
    version = (previous.version if previous is not None else 0) + 1
    # reproducible: the same examples give the same sample and folds
    seed = zlib.crc32(tag.name.encode()) % (2**31) + version
    data = training_set(session, tag, seed)
    positives, known, sample = data.positives, data.known, data.sample
    if len(positives) < MIN_EXAMPLES:
        tag.auto_status = AutoStatus.NEEDS_EXAMPLES.value
        return None
    name, vectors = search_service.embed_turns(session, tag.company_id, positives + known + sample)
    pos = vectors[: len(positives)]
    known_vec = vectors[len(positives) : len(positives) + len(known)]
    sample_vec = vectors[len(positives) + len(known) :]
    keep = reliable_negatives(pos, sample_vec)
    neg = np.vstack([known_vec, sample_vec[keep]])
    weights = np.array(
        [CONFIRMED_NEGATIVE_WEIGHT if t.id in data.confirmed else 1.0 for t in known]
        + [1.0] * len(keep)
    )
    try:
        clf = logistic.train(pos, neg, negative_weights=weights, seed=seed)
    except ValueError as exc:
        tag.auto_status = AutoStatus.NEEDS_EXAMPLES.value
        tag.auto_error = str(exc)[:300]
        return None
    tag.auto_error = None
    figures, judge_model = None, None
    if tag.llm_judge:
        texts = [t.text for t in positives + known] + [data.sample[i].text for i in keep]
        figures, judge_model = _judge_figures(session, tag, clf, texts)
    model = AutoReviewModel(
        company_id=tag.company_id,
        tag_id=tag.id,
        version=version,
        examples=clf.positives,
        negatives=clf.negatives,
        precision=clf.precision,
        recall=clf.recall,
        f1=clf.f1,
        threshold=clf.threshold,
        judge_precision=figures.precision if figures else None,
        judge_recall=figures.recall if figures else None,
        judge_model=judge_model,
        embedder=name,
        classifier=clf.to_json(),
    )
    session.add(model)
    tag.auto_status = AutoStatus.RUNNING.value
    session.flush()
    return model


def _judge_client(session: Session, company_id: uuid.UUID) -> ChatClient | None:
    """The company's LLM for the judge; None while it uses the local engine."""
    return minutes_service.chat_client_for(
        accounts_service.get_company_settings(session, company_id)
    )


def _judge_figures(
    session: Session, tag: Tag, clf: TrainedClassifier, texts: list[str]
) -> tuple[judge.JudgedFigures | None, str | None]:
    """The judge's out-of-fold precision/recall on the training rows (None, with the
    reason in tag.auto_error, when no LLM is set or it cannot answer)."""
    client = _judge_client(session, tag.company_id)
    if client is None:
        tag.auto_error = "LLM judge: no LLM is set (Settings → AI); the classifier flags alone."
        return None, None
    assert clf.oof is not None and clf.fold is not None
    labels = np.r_[np.ones(clf.positives, dtype=int), np.zeros(clf.negatives, dtype=int)]
    try:
        with client:
            figures = judge.cross_validated(
                client,
                judge.TagBrief(tag.name, tag.description),
                texts=texts,
                labels=labels,
                oof=clf.oof,
                fold=clf.fold,
                threshold=clf.threshold,
            )
    except LLMFailed as exc:
        tag.auto_error = f"LLM judge: {exc.message}"[:300]
        return None, None
    return figures, client.model


class _Judge:
    """The AutoReview step's judge for one run: the company's LLM, opened on first use,
    with each judged tag's examples read once."""

    def __init__(self, session: Session, company_id: uuid.UUID):
        self.session, self.company_id = session, company_id
        self._client: ChatClient | None | bool = False  # False: not looked up yet
        self._examples: dict[uuid.UUID, list[str]] = {}

    def client(self) -> ChatClient | None:
        if self._client is False:
            self._client = _judge_client(self.session, self.company_id)
        return self._client  # type: ignore[return-value]

    def verdicts(self, tag: Tag, candidates: list[Turn]) -> dict[int, dict[str, Any]]:
        """turn id -> the judge's record, for the candidates to flag (the others were
        rejected). No LLM, or one that fails: every candidate, marked unavailable."""
        client = self.client()
        if client is None or not candidates:
            return {t.id: {"verdict": "unavailable", "error": "no LLM is set"} for t in candidates}
        if tag.id not in self._examples:
            ids = example_turn_ids(self.session, tag)[: judge.MAX_EXAMPLES]
            self._examples[tag.id] = list(
                self.session.scalars(select(Turn.text).where(Turn.id.in_(ids)).order_by(Turn.id))
            )
        try:
            with client:
                picked = judge.confirm(
                    client,
                    judge.TagBrief(tag.name, tag.description),
                    examples=self._examples[tag.id],
                    candidates=[t.text for t in candidates],
                )
        except LLMFailed as exc:
            log.warning("LLM judge of tag %s unavailable: %s", tag.id, exc.code)
            note = {"verdict": "unavailable", "error": exc.message[:200]}
            return {t.id: dict(note) for t in candidates}
        return {
            candidates[i].id: {"verdict": "confirmed", "model": client.model}
            for i in sorted(picked)
        }


def classifier_of(model: AutoReviewModel) -> TrainedClassifier:
    return TrainedClassifier.from_json(
        model.classifier, threshold=model.threshold, precision=model.precision, recall=model.recall
    )


def _apply(
    session: Session,
    tag: Tag,
    model: AutoReviewModel,
    turns: list[Turn],
    probs: np.ndarray,
    judge_run: _Judge | None = None,
) -> int:
    """Write the AI reviews of `tag` on `turns` from `probs`: a flag per turn at or above
    the threshold. Replaces what an earlier model wrote on these turns, except reviews
    that have feedback: those stay (the feedback is a training signal), withdrawn when no
    longer flagged. People's reviews are never touched. Returns the turns flagged."""
    if not turns:
        return 0
    ids = [t.id for t in turns]
    existing = {
        r.turn_id: r
        for r in session.scalars(
            select(Review).where(
                Review.tag_id == tag.id,
                Review.reviewer_kind == ReviewerKind.AI.value,
                Review.turn_id.in_(ids),
            )
        )
    }
    human = set(
        session.scalars(
            select(Review.turn_id).where(
                Review.tag_id == tag.id,
                Review.reviewer_kind == ReviewerKind.HUMAN.value,
                Review.turn_id.in_(ids),
            )
        )
    )
    verdicts: dict[int, dict[str, Any]] | None = None
    if tag.llm_judge and judge_run is not None:  # the LLM confirms the candidates
        candidates = [
            t
            for t, p in zip(turns, probs, strict=True)
            if p >= model.threshold and t.id not in human
        ]
        verdicts = judge_run.verdicts(tag, candidates)
    flagged = 0
    for turn, prob in zip(turns, probs, strict=True):
        review = existing.get(turn.id)
        hit = bool(prob >= model.threshold) and turn.id not in human
        if hit and verdicts is not None:
            hit = turn.id in verdicts
        if hit:
            flagged += 1
            if review is None:
                review = Review(
                    company_id=tag.company_id,
                    engagement_id=turn.engagement_id,
                    turn_id=turn.id,
                    tag_id=tag.id,
                    reviewer_kind=ReviewerKind.AI.value,
                    reviewer_name="AI",
                    answers={},
                )
                session.add(review)
            review.confidence = round(float(prob), 4)
            review.model_id = model.id
            review.status = ReviewStatus.FLAGGED.value
            review.judge = verdicts.get(turn.id) if verdicts is not None else None
        elif review is not None:
            if review.verdict is None:
                session.delete(review)
            else:
                review.status = ReviewStatus.WITHDRAWN.value
                review.confidence = round(float(prob), 4)
    session.flush()
    return flagged


def _score_turns(
    session: Session,
    company_id: uuid.UUID,
    turns: list[Turn],
    tags: list[tuple[Tag, AutoReviewModel]],
) -> int:
    wanted = {role for tag, _m in tags for role, lv in ROLE_LEVEL.items() if lv in tag.levels}
    turns = [t for t in turns if t.role in wanted and t.text.strip()]
    if not turns:
        return 0
    name, vectors = search_service.embed_turns(session, company_id, turns)
    flagged = 0
    judge_run = _Judge(session, company_id)
    for tag, model in tags:
        if model.embedder != name:
            log.warning("auto review of tag %s skipped: trained with another embedder", tag.id)
            continue
        roles = {role for role, level in ROLE_LEVEL.items() if level in (tag.levels or [])}
        index = [i for i, t in enumerate(turns) if t.role in roles]
        probs = classifier_of(model).probabilities(vectors[index])
        flagged += _apply(session, tag, model, [turns[i] for i in index], probs, judge_run)
    return flagged


def enabled_models(session: Session, company_id: uuid.UUID) -> list[tuple[Tag, AutoReviewModel]]:
    out = []
    for tag in session.scalars(
        select(Tag).where(Tag.company_id == company_id, Tag.auto_enabled.is_(True)).order_by(Tag.id)
    ):
        model = latest_model(session, tag.id)
        if model is not None:
            out.append((tag, model))
    return out


def auto_review_engagement(session: Session, engagement_id: uuid.UUID) -> int:
    """The AutoReview step: the engagement's turns are embedded once and reviewed by
    every enabled tag's newest classifier. Returns the turns reviewed (0 when no tag is
    enabled: nothing is embedded)."""
    engagement = session.get(Engagement, engagement_id)
    if engagement is None:
        return 0
    tags = enabled_models(session, engagement.company_id)
    if not tags:
        return 0
    turns = list(
        session.scalars(select(Turn).where(Turn.engagement_id == engagement_id).order_by(Turn.seq))
    )
    _score_turns(session, engagement.company_id, turns, tags)
    return len(turns)


def backfill(
    session_factory: Callable[[], Any],
    model_id: uuid.UUID,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Review 100 % of the company's existing turns with one model version, a
    transaction per BACKFILL_CHUNK engagements; progress is kept on the model row
    (backfill_done / backfill_total engagements). Returns the turns flagged."""
    with session_factory() as session:
        model = session.get(AutoReviewModel, model_id)
        if model is None:
            return 0
        company_id, tag_id = model.company_id, model.tag_id
        ids = list(
            session.scalars(
                select(Engagement.id)
                .where(Engagement.company_id == company_id)
                .order_by(Engagement.created_at, Engagement.id)
            )
        )
        model.backfill_total, model.backfill_done = len(ids), 0
        model.progress_at = utcnow()
    flagged = 0
    for start in range(0, len(ids), BACKFILL_CHUNK):
        chunk = ids[start : start + BACKFILL_CHUNK]
        with session_factory() as session:
            model = session.get(AutoReviewModel, model_id)
            tag = session.get(Tag, tag_id)
            if model is None or tag is None:
                return flagged
            latest = latest_model(session, tag_id)
            if latest is not None and latest.id != model.id:
                return flagged  # a newer version took over (its own backfill runs)
            turns = list(
                session.scalars(select(Turn).where(Turn.engagement_id.in_(chunk)).order_by(Turn.id))
            )
            flagged += _score_turns(session, company_id, turns, [(tag, model)])
            model.backfill_done = min(len(ids), start + len(chunk))
            model.progress_at = utcnow()
        if progress is not None:
            progress(min(len(ids), start + len(chunk)), len(ids))
    with session_factory() as session:
        model = session.get(AutoReviewModel, model_id)
        tag = session.get(Tag, tag_id)
        if model is not None and tag is not None:
            model.flagged = flagged_count(session, tag_id)
            if tag.auto_status == AutoStatus.RUNNING:
                tag.auto_status = AutoStatus.READY.value
    return flagged


def train_and_backfill(session_factory: Callable[[], Any], tag_id: uuid.UUID) -> int:
    """What `reviews.train` does: a new version, then the backfill with it."""
    with session_factory() as session:
        model = train_tag(session, tag_id)
        model_id = model.id if model is not None else None
    if model_id is None:
        return 0
    return backfill(session_factory, model_id)


STALLED_AFTER_S = 900  # a training or backfill silent this long lost its job


@dataclass(frozen=True)
class Stalled:
    trainings: list[uuid.UUID]  # tags whose training was asked for and never came
    backfills: list[uuid.UUID]  # model versions whose backfill stopped half way


def find_stalled(session: Session, stalled_after_s: float = STALLED_AFTER_S) -> Stalled:
    """Auto reviews whose job a crash or a flushed queue lost; each is marked as asked
    again now, so the next sweep leaves it alone for another STALLED_AFTER_S."""
    now = utcnow()
    cutoff = now - timedelta(seconds=stalled_after_s)
    trainings = []
    for tag in session.scalars(
        select(Tag).where(
            Tag.auto_enabled.is_(True),
            Tag.auto_status == AutoStatus.TRAINING.value,
            (Tag.auto_requested_at.is_(None)) | (Tag.auto_requested_at < cutoff),
        )
    ):
        tag.auto_requested_at = now
        trainings.append(tag.id)
    backfills = []
    for tag in session.scalars(
        select(Tag).where(Tag.auto_enabled.is_(True), Tag.auto_status == AutoStatus.RUNNING.value)
    ):
        model = latest_model(session, tag.id)
        if model is None:
            continue
        last = model.progress_at or model.created_at
        if last < cutoff and (
            model.backfill_total == 0 or model.backfill_done < model.backfill_total
        ):
            model.progress_at = now
            backfills.append(model.id)
    session.flush()
    return Stalled(trainings, backfills)


# -- coverage and queue --------------------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    agent_id: uuid.UUID | None
    agent_name: str
    engagements: int
    reviewed: int

    @property
    def share(self) -> float:
        return self.reviewed / self.engagements if self.engagements else 0.0


def coverage_per_agent(session: Session, company_id: uuid.UUID) -> list[Coverage]:
    """Per agent: engagements, and how many carry a person's `Reviewed` tag."""
    from callscribe.accounts.models import Agent

    reviewed_tag = builtin_tag(session, company_id, BuiltinTag.REVIEWED)
    reviewed_ids = select(Review.engagement_id).where(
        Review.tag_id == reviewed_tag.id, Review.reviewer_kind == ReviewerKind.HUMAN.value
    )
    rows = session.execute(
        select(
            Engagement.agent_id,
            func.count(Engagement.id),
            func.count(Engagement.id).filter(Engagement.id.in_(reviewed_ids)),
        )
        .where(Engagement.company_id == company_id)
        .group_by(Engagement.agent_id)
    ).all()
    names = dict(
        session.execute(select(Agent.id, Agent.name).where(Agent.company_id == company_id)).all()
    )
    out = [
        Coverage(agent_id, names.get(agent_id, "No agent") if agent_id else "No agent", n, r)
        for agent_id, n, r in rows
    ]
    return sorted(out, key=lambda c: c.agent_name)


@dataclass(frozen=True)
class QueueFilter:
    state: str | None = None  # unreviewed | disputed | ai_flagged
    tag_id: uuid.UUID | None = None
    agent_id: uuid.UUID | None = None
    since: Any = None
    until: Any = None


QUEUE_STATES = ("unreviewed", "disputed", "ai_flagged")


def review_queue(
    session: Session, principal: Principal, flt: QueueFilter, page: int = 1, page_size: int = 25
) -> Page[Engagement]:
    """Engagements to review, newest first, narrowed by the filter."""
    company_id = principal.company_id
    stmt = select(Engagement).where(Engagement.company_id == company_id)
    if principal.sees_only_own_calls:
        stmt = stmt.where(Engagement.id.in_(_own_engagements(principal)))
    reviewed_tag = builtin_tag(session, company_id, BuiltinTag.REVIEWED)
    if flt.state == "unreviewed":
        stmt = stmt.where(
            Engagement.id.not_in(
                select(Review.engagement_id).where(
                    Review.tag_id == reviewed_tag.id,
                    Review.reviewer_kind == ReviewerKind.HUMAN.value,
                )
            )
        )
    elif flt.state == "disputed":
        stmt = stmt.where(
            Engagement.id.in_(
                select(Review.engagement_id).where(
                    Review.company_id == company_id, Review.status == ReviewStatus.DISPUTED.value
                )
            )
        )
    elif flt.state == "ai_flagged":
        stmt = stmt.where(
            Engagement.id.in_(
                select(Review.engagement_id).where(
                    Review.company_id == company_id, Review.status == ReviewStatus.FLAGGED.value
                )
            )
        )
    if flt.tag_id is not None:
        stmt = stmt.where(
            Engagement.id.in_(select(Review.engagement_id).where(Review.tag_id == flt.tag_id))
        )
    if flt.agent_id is not None:
        stmt = stmt.where(Engagement.agent_id == flt.agent_id)
    if flt.since is not None:
        stmt = stmt.where(Engagement.started_at >= flt.since)
    if flt.until is not None:
        stmt = stmt.where(Engagement.started_at < flt.until)
    return paginate(
        session, stmt, page, page_size, order_by=(Engagement.created_at.desc(), Engagement.id)
    )


def dispute_inbox(session: Session, principal: Principal) -> list[Review]:
    stmt = select(Review).where(
        Review.company_id == principal.company_id, Review.status == ReviewStatus.DISPUTED.value
    )
    if principal.sees_only_own_calls:
        stmt = stmt.where(Review.engagement_id.in_(_own_engagements(principal)))
    return list(session.scalars(stmt.order_by(Review.updated_at).limit(200)))


# -- calibration ---------------------------------------------------------------------------


def gwet_ac1(pairs: list[tuple[Any, Any]]) -> float | None:
    """Gwet's AC1 of two raters over `pairs` of their answers (categories as given):
    (pa - pe) / (1 - pe), pa the observed agreement, pe = sum_q pi_q (1 - pi_q) / (Q - 1)
    with pi_q the mean share of category q over both raters and Q the categories seen.
    None without pairs; 1.0 when only one category was ever used (full agreement)."""
    if not pairs:
        return None
    n = len(pairs)
    pa = sum(1 for a, b in pairs if a == b) / n
    categories = sorted({str(a) for a, _b in pairs} | {str(b) for _a, b in pairs})
    q = len(categories)
    if q < 2:
        return 1.0
    pi = {
        c: (sum(str(a) == c for a, _ in pairs) + sum(str(b) == c for _, b in pairs)) / (2 * n)
        for c in categories
    }
    pe = sum(p * (1 - p) for p in pi.values()) / (q - 1)
    if pe >= 1:
        return None
    return (pa - pe) / (1 - pe)


def create_calibration(
    session: Session,
    company_id: uuid.UUID,
    *,
    name: str,
    form_id: uuid.UUID,
    engagement_ids: list[uuid.UUID],
    expert_user_id: uuid.UUID,
) -> CalibrationSession:
    form = get_form(session, company_id, form_id)
    for engagement_id in engagement_ids:
        engagement = session.get(Engagement, engagement_id)
        if engagement is None or engagement.company_id != company_id:
            raise NotFound("Engagement not found.")
    expert = session.get(User, expert_user_id)
    if expert is None or expert.company_id != company_id:
        raise NotFound("Expert user not found.")
    calibration = CalibrationSession(
        company_id=company_id,
        name=name,
        form_version_id=current_version(session, form).id,
        engagement_ids=[str(e) for e in engagement_ids],
        expert_user_id=expert_user_id,
    )
    session.add(calibration)
    session.flush()
    return calibration


def list_calibrations(session: Session, company_id: uuid.UUID) -> list[CalibrationSession]:
    return list(
        session.scalars(
            select(CalibrationSession)
            .where(CalibrationSession.company_id == company_id)
            .order_by(CalibrationSession.created_at.desc())
        )
    )


def get_calibration(
    session: Session, company_id: uuid.UUID, calibration_id: uuid.UUID
) -> CalibrationSession:
    calibration = session.get(CalibrationSession, calibration_id)
    if calibration is None or calibration.company_id != company_id:
        raise NotFound("Calibration session not found.")
    return calibration


@dataclass(frozen=True)
class CalibrationItem:
    """One engagement of a session as its scoring page lists it: what it is, and the
    signed-in reviewer's own score there (None: not answered yet). Blind: no one else's."""

    engagement_id: uuid.UUID
    label: str
    started_at: datetime | None
    answered: bool
    score: float | None
    answers: dict[str, Any]


def calibration_candidates(
    session: Session, company_id: uuid.UUID, limit: int = 40
) -> list[tuple[uuid.UUID, str]]:
    """The company's latest completed engagements, (id, label), for a new session."""
    rows = session.execute(
        select(Engagement.id, Engagement.channel, Engagement.started_at, Minutes.subject)
        .outerjoin(Minutes, Minutes.engagement_id == Engagement.id)
        .where(Engagement.company_id == company_id, Engagement.status == "completed")
        .order_by(Engagement.created_at.desc())
        .limit(limit)
    ).all()
    return [
        (eid, _engagement_label(channel, started, subject))
        for eid, channel, started, subject in rows
    ]


def _engagement_label(channel: str, started: datetime | None, subject: str | None) -> str:
    when = f"{started:%Y-%m-%d %H:%M}" if started else "undated"
    return f"{channel} · {when} · {subject or 'no Minutes yet'}"[:200]


def calibration_items(
    session: Session, calibration: CalibrationSession, user_id: uuid.UUID | None
) -> list[CalibrationItem]:
    ids = [uuid.UUID(e) for e in calibration.engagement_ids]
    info = {
        eid: (channel, started, subject)
        for eid, channel, started, subject in session.execute(
            select(Engagement.id, Engagement.channel, Engagement.started_at, Minutes.subject)
            .outerjoin(Minutes, Minutes.engagement_id == Engagement.id)
            .where(Engagement.id.in_(ids))
        )
    }
    mine = (
        {
            r.engagement_id: r
            for r in session.scalars(
                select(Review).where(
                    Review.calibration_id == calibration.id, Review.reviewer_user_id == user_id
                )
            )
        }
        if user_id is not None
        else {}
    )
    out = []
    for eid in ids:
        if eid not in info:
            continue  # deleted since the session was made
        channel, started, subject = info[eid]
        review = mine.get(eid)
        out.append(
            CalibrationItem(
                engagement_id=eid,
                label=_engagement_label(channel, started, subject),
                started_at=started,
                answered=review is not None,
                score=review.score if review is not None else None,
                answers=dict(review.answers or {}) if review is not None else {},
            )
        )
    return out


def calibration_form(session: Session, calibration: CalibrationSession) -> dict[str, Any]:
    """The frozen form version's snapshot the session is scored with."""
    version = session.get(FormVersion, calibration.form_version_id)
    assert version is not None
    return version.snapshot


def submit_calibration(
    session: Session,
    principal: Principal,
    calibration_id: uuid.UUID,
    *,
    engagement_id: uuid.UUID,
    answers: dict[str, Any],
) -> Review:
    """A reviewer's blind answers in the session (one per reviewer and engagement); they
    never show in the engagement's reviews."""
    calibration = get_calibration(session, principal.company_id, calibration_id)
    if str(engagement_id) not in calibration.engagement_ids:
        raise NotFound("Engagement not in this calibration session.")
    version = session.get(FormVersion, calibration.form_version_id)
    assert version is not None
    score = score_answers(version.snapshot, answers)
    session.execute(
        delete(Review).where(
            Review.calibration_id == calibration.id,
            Review.engagement_id == engagement_id,
            Review.reviewer_user_id == principal.user_id,
        )
    )
    review = Review(
        company_id=principal.company_id,
        engagement_id=engagement_id,
        form_id=version.form_id,
        form_version_id=version.id,
        calibration_id=calibration.id,
        answers=score.answers,
        score=score.percent,
        auto_failed=score.auto_failed,
        reviewer_kind=ReviewerKind.HUMAN.value,
        reviewer_user_id=principal.user_id,
        reviewer_name=_reviewer_name(session, principal.user_id),
        status=ReviewStatus.SUBMITTED.value,
        created_at=utcnow(),
    )
    session.add(review)
    session.flush()
    return review


@dataclass(frozen=True)
class QuestionAgreement:
    question_id: str
    text: str
    pairs: int
    percent_agreement: float | None
    ac1: float | None


def calibration_agreement(
    session: Session, company_id: uuid.UUID, calibration_id: uuid.UUID
) -> list[QuestionAgreement]:
    """Per question: each reviewer's answer paired with the expert's on the same
    engagement; percent agreement and Gwet's AC1 over those pairs."""
    calibration = get_calibration(session, company_id, calibration_id)
    version = session.get(FormVersion, calibration.form_version_id)
    assert version is not None
    reviews = list(session.scalars(select(Review).where(Review.calibration_id == calibration.id)))
    expert = {
        r.engagement_id: r for r in reviews if r.reviewer_user_id == calibration.expert_user_id
    }
    out = []
    for section in version.snapshot["sections"]:
        for q in section["questions"]:
            pairs = []
            for r in reviews:
                if r.reviewer_user_id == calibration.expert_user_id:
                    continue
                ref = expert.get(r.engagement_id)
                if ref is None or q["id"] not in r.answers or q["id"] not in ref.answers:
                    continue
                a, b = r.answers[q["id"]]["value"], ref.answers[q["id"]]["value"]
                pairs.append((_category(a), _category(b)))
            pa = sum(a == b for a, b in pairs) / len(pairs) if pairs else None
            out.append(QuestionAgreement(q["id"], q["text"], len(pairs), pa, gwet_ac1(pairs)))
    return out


def _category(value: Any) -> str:
    return "|".join(sorted(map(str, value))) if isinstance(value, list) else str(value)

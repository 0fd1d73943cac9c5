"""Loaders of QA questions and reviews: a platform's QA history comes in with its
conversations. A review names its engagement (and a turn by its `seq`), a tag by name
(the company's tag, made when it has none) and/or answers to questions of the same
source, by their IDs; an imported review keeps the score the source gave it."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import select

from callscribe.calls.models import Engagement, Turn
from callscribe.ingest.request import pid_for
from callscribe.ingest.zipbatch.loaders.base import (
    Item,
    Loader,
    MessageCode,
    Outcome,
    Rejected,
    reference,
    upsert_by_pid,
)
from callscribe.reviews.models import (
    BuiltinTag,
    Level,
    Polarity,
    Question,
    QuestionKind,
    Review,
    ReviewerKind,
    ReviewStatus,
    Tag,
)
from callscribe.reviews.service import builtin_tag

MAX_QUESTION_LEN = 500
MAX_COMMENT_LEN = 4000


class QuestionsLoader(Loader):
    data_set = "questions"
    fields = frozenset({"text", "kind", "choices", "weight", "allow_na", "critical", "root_causes"})

    def load_item(self, item: Item) -> Outcome:
        text = item.text("text", max_len=MAX_QUESTION_LEN, required=True)
        kind = item.enum("kind", [k.value for k in QuestionKind], default=QuestionKind.BINARY.value)
        choices = _choices(item)
        if kind in (QuestionKind.SINGLE, QuestionKind.MULTIPLE) and len(choices) < 2:
            raise Rejected(MessageCode.MISSING_FIELD, f"a {kind} question needs 2 or more choices.")
        weight = item.number("weight", minimum=0)
        values = {
            "text": text,
            "kind": kind,
            "choices": choices,
            "weight": 1.0 if weight is None else weight,
            "allow_na": bool(item.flag("allow_na")),
            "critical": bool(item.flag("critical")),
            "root_causes": [c[:100] for c in item.strings("root_causes")],
        }
        return upsert_by_pid(item, Question, values)[1]


def _choices(item: Item) -> list[dict[str, Any]]:
    """[{"label", "score" 0..1}]: given as objects, or as labels (scored evenly, the
    first best)."""
    raw = item.data.get("choices")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise Rejected(MessageCode.BAD_VALUE, "choices must be a list.")
    out: list[dict[str, Any]] = []
    for n, choice in enumerate(raw):
        if isinstance(choice, str):
            score = 1 - n / (len(raw) - 1) if len(raw) > 1 else 1.0
            out.append({"label": choice.strip()[:100], "score": round(score, 4)})
        elif isinstance(choice, dict) and isinstance(choice.get("label"), str):
            score = choice.get("score", 0)
            if isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 1:
                raise Rejected(MessageCode.BAD_VALUE, "a choice's score must be from 0 to 1.")
            out.append({"label": choice["label"].strip()[:100], "score": float(score)})
        else:
            raise Rejected(MessageCode.BAD_VALUE, "a choice is a label or {label, score}.")
    return out


class ReviewsLoader(Loader):
    data_set = "reviews"
    fields = frozenset(
        {
            "engagement_id",
            "turn_seq",
            "tag",
            "answers",
            "score",
            "comment",
            "reviewer",
            "reviewer_kind",
            "confidence",
            "created_at",
        }
    )

    def load_item(self, item: Item) -> Outcome:
        chunk = item.chunk
        engagement_id = reference(item, "engagements", Engagement, "engagement_id")
        if engagement_id is None:
            raise Rejected(
                MessageCode.UNKNOWN_REFERENCE,
                "engagement_id must name an item of engagements (send the engagement first).",
            )
        turn_id = None
        seq = item.integer("turn_seq")
        if seq is not None:
            turn_id = chunk.session.scalar(
                select(Turn.id).where(Turn.engagement_id == engagement_id, Turn.seq == seq)
            )
            if turn_id is None:
                raise Rejected(
                    MessageCode.UNKNOWN_REFERENCE,
                    f"turn_seq {seq}: the engagement has no such turn (send its turns first).",
                )
        tag_name = item.label("tag")
        answers = self._answers(item)
        score = item.number("score", minimum=0)
        if score is not None and score > 1000:
            raise Rejected(MessageCode.BAD_VALUE, "score is a percentage (0 to 100, or more).")
        if tag_name is None and not answers and score is None:
            raise Rejected(MessageCode.MISSING_FIELD, "a review needs a tag, answers or a score.")
        kind = item.enum(
            "reviewer_kind", [k.value for k in ReviewerKind], default=ReviewerKind.HUMAN.value
        )
        confidence = item.number("confidence", minimum=0)
        if confidence is not None and confidence > 1:
            raise Rejected(MessageCode.BAD_VALUE, "confidence must be from 0 to 1.")
        values: dict[str, Any] = {
            "engagement_id": engagement_id,
            "turn_id": turn_id,
            "tag_id": self._tag(item, tag_name).id if tag_name else None,
            "answers": answers,
            "score": score,
            "comment": item.text("comment", max_len=MAX_COMMENT_LEN) or "",
            "reviewer_kind": kind,
            "reviewer_name": item.label("reviewer"),
            "confidence": confidence,
            "status": (
                ReviewStatus.FLAGGED.value
                if kind == ReviewerKind.AI
                else ReviewStatus.SUBMITTED.value
            ),
        }
        created = item.moment("created_at")
        if created is not None:
            values["created_at"] = created
        return upsert_by_pid(item, Review, values)[1]

    def _answers(self, item: Item) -> dict[str, Any]:
        """{our question id: the answer}, from {the source's question id: answer}."""
        raw = item.data.get("answers")
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise Rejected(
                MessageCode.BAD_VALUE, "answers must be an object of question id: answer."
            )
        chunk = item.chunk
        out: dict[str, Any] = {}
        for external, answer in raw.items():
            key = ("questions", str(external))
            if key not in chunk.refs:
                pid = pid_for(chunk.company_id, chunk.source_id, "questions", str(external))
                chunk.refs[key] = chunk.session.scalar(
                    select(Question.id).where(
                        Question.company_id == chunk.company_id, Question.pid == pid
                    )
                )
            question_id = chunk.refs[key]
            if question_id is None:
                item.warn(
                    MessageCode.UNKNOWN_REFERENCE,
                    f"answers: question {str(external)[:60]!r} is not in questions; ignored.",
                )
                continue
            if not _plain_answer(answer):
                raise Rejected(
                    MessageCode.BAD_VALUE,
                    f"answers.{str(external)[:40]}: an answer is a number, text, true/false, "
                    "null (N/A) or a list of choice labels.",
                )
            out[str(question_id)] = answer
        return out

    def _tag(self, item: Item, name: str) -> Tag:
        """The company's tag of that name (any case), made neutral and usable everywhere
        when the company has none."""
        chunk = item.chunk
        key = ("tags", name.lower())
        if key in chunk.refs and chunk.refs[key] is not None:
            found = chunk.session.get(Tag, chunk.refs[key])
            if found is not None:
                return found
        builtin = next((b for b in BuiltinTag if b.value.lower() == name.lower()), None)
        tag: Tag | None
        if builtin is not None:  # `Reviewed` counts toward coverage: the built-in one
            tag = builtin_tag(chunk.session, chunk.company_id, builtin)
        else:
            tag = chunk.session.scalars(
                select(Tag).where(Tag.company_id == chunk.company_id, Tag.name.ilike(name))
            ).first()
        if tag is None:
            with chunk.session.begin_nested():
                tag = Tag(
                    company_id=chunk.company_id,
                    name=name,
                    polarity=Polarity.NEUTRAL.value,
                    levels=[level.value for level in Level],
                    description="Imported with a review.",
                )
                chunk.session.add(tag)
                chunk.session.flush()
        chunk.refs[key] = tag.id
        return tag


def _plain_answer(value: Any) -> bool:
    if value is None or isinstance(value, bool | str):
        return not isinstance(value, str) or len(value) <= 2000
    if isinstance(value, int | float):
        return math.isfinite(value)
    if isinstance(value, list):
        return len(value) <= 50 and all(isinstance(v, str) and len(v) <= 100 for v in value)
    return False

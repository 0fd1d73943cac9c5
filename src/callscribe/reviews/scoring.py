"""Scoring a form's answers: a weighted percentage. Questions are weighted inside their
section and sections by their weight; N/A (and unanswered) questions are left out of
both sums; a bonus section adds on top, so a score may pass 100 %; a failed answer in an
auto-fail section, or to a critical question anywhere, makes the score 0.

A question's answer counts as a fraction: binary yes 1 / no 0; a scale of N points
(value - 1) / (N - 1); a choice its `score` (multiple choice: the mean of those picked);
text is not scored. "Failed" is a fraction of 0."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from callscribe.errors import ValidationFailed
from callscribe.reviews.models import QuestionKind, SectionKind

NA = "na"
SCALE_POINTS = {QuestionKind.SCALE3: 3, QuestionKind.SCALE4: 4, QuestionKind.SCALE5: 5}


@dataclass(frozen=True)
class Score:
    percent: float | None  # None when nothing was scored
    auto_failed: bool
    answers: dict[str, dict[str, Any]]  # normalised: {qid: {"value", "root_causes"}}


def _fraction(question: dict[str, Any], value: Any) -> float | None:
    """The answer's fraction, None for text; ValidationFailed for a value the question
    does not take."""
    kind = question["kind"]
    qid = question["id"]
    if kind == QuestionKind.BINARY:
        if value in (True, "yes"):
            return 1.0
        if value in (False, "no"):
            return 0.0
        raise ValidationFailed(f"answers.{qid}: a binary question takes yes or no.")
    if kind in SCALE_POINTS:
        points = SCALE_POINTS[QuestionKind(kind)]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= points:
            raise ValidationFailed(f"answers.{qid}: give a whole number from 1 to {points}.")
        return (value - 1) / (points - 1)
    scores = {c["label"]: float(c.get("score", 1.0)) for c in question.get("choices") or []}
    if kind == QuestionKind.SINGLE:
        if not isinstance(value, str) or value not in scores:
            raise ValidationFailed(f"answers.{qid}: pick one of {sorted(scores)}.")
        return scores[value]
    if kind == QuestionKind.MULTIPLE:
        if not isinstance(value, list) or any(
            not isinstance(v, str) or v not in scores for v in value
        ):
            raise ValidationFailed(f"answers.{qid}: pick a list of {sorted(scores)}.")
        return sum(scores[v] for v in value) / len(value) if value else 0.0
    if not isinstance(value, str) or len(value) > 5000:
        raise ValidationFailed(f"answers.{qid}: text of at most 5000 characters.")
    return None


def score_answers(snapshot: dict[str, Any], answers: dict[str, Any]) -> Score:
    """Check `answers` ({question id: value or {"value", "root_causes"}}) against a form
    version's snapshot and score them."""
    questions = {
        q["id"]: (section, q) for section in snapshot["sections"] for q in section["questions"]
    }
    for qid in answers:
        if qid not in questions:
            raise ValidationFailed(f"answers.{qid}: not a question of this form.")
    normalised: dict[str, dict[str, Any]] = {}
    std_num = std_den = bonus_num = 0.0
    auto_failed = False
    for section in snapshot["sections"]:
        num = den = 0.0
        for q in section["questions"]:
            if q["id"] not in answers:
                continue
            raw = answers[q["id"]]
            value, causes = (
                (raw.get("value"), raw.get("root_causes") or [])
                if isinstance(raw, dict)
                else (raw, [])
            )
            if value == NA:
                if not q.get("allow_na"):
                    raise ValidationFailed(f"answers.{q['id']}: this question cannot be N/A.")
                normalised[q["id"]] = {"value": NA, "root_causes": []}
                continue
            fraction = _fraction(q, value)
            if causes:
                allowed = set(q.get("root_causes") or [])
                if not isinstance(causes, list) or any(
                    not isinstance(c, str) or c not in allowed for c in causes
                ):
                    raise ValidationFailed(
                        f"answers.{q['id']}.root_causes: pick from {sorted(allowed)}."
                    )
                if fraction is None or fraction >= 1.0:
                    raise ValidationFailed(
                        f"answers.{q['id']}.root_causes: only a negative answer has root causes."
                    )
            normalised[q["id"]] = {"value": value, "root_causes": list(causes)}
            if fraction is None:
                continue
            failed = fraction == 0.0
            if failed and (q.get("critical") or section["kind"] == SectionKind.AUTO_FAIL):
                auto_failed = True
            if section["kind"] == SectionKind.AUTO_FAIL:
                continue  # pass/fail only: not part of the percentage
            weight = float(q.get("weight", 1.0))
            num += weight * fraction
            den += weight
        if den == 0:
            continue
        part = float(section.get("weight", 1.0)) * num / den
        if section["kind"] == SectionKind.STANDARD:
            std_num += part
            std_den += float(section.get("weight", 1.0))
        elif section["kind"] == SectionKind.BONUS:
            bonus_num += part
    if auto_failed:
        return Score(0.0, True, normalised)
    if std_den == 0:
        return Score(None, False, normalised)
    return Score(round(100.0 * (std_num + bonus_num) / std_den, 2), False, normalised)

"""Form scoring (weights, N/A, auto-fail, bonus above 100 %) and Gwet's AC1, computed by
hand next to the code's answer."""

from __future__ import annotations

import pytest

from callscribe.errors import ValidationFailed
from callscribe.reviews.scoring import score_answers
from callscribe.reviews.service import gwet_ac1


def q(qid: str, kind: str = "binary", **extra: object) -> dict:
    return {
        "id": qid,
        "text": qid,
        "kind": kind,
        "weight": 1.0,
        "allow_na": False,
        "critical": False,
        "root_causes": [],
        "choices": [],
        **extra,
    }


FORM = {
    "name": "QA",
    "levels": ["engagement"],
    "sections": [
        {
            "title": "Opening",
            "kind": "standard",
            "weight": 2.0,
            "questions": [q("greet"), q("name", weight=3.0, allow_na=True)],
        },
        {
            "title": "Resolution",
            "kind": "standard",
            "weight": 1.0,
            "questions": [
                q("solved", "scale5", root_causes=["knowledge", "tools"]),
                q(
                    "tone",
                    "single_choice",
                    choices=[
                        {"label": "warm", "score": 1.0},
                        {"label": "flat", "score": 0.5},
                        {"label": "rude", "score": 0.0},
                    ],
                ),
                q("notes", "text"),
            ],
        },
        {"title": "Extra mile", "kind": "bonus", "weight": 0.5, "questions": [q("extra")]},
        {"title": "Compliance", "kind": "auto_fail", "weight": 1.0, "questions": [q("verified")]},
    ],
}


def test_weighted_percentage_with_sections_and_question_weights() -> None:
    # Opening: greet yes (1, w1), name no (0, w3) -> 1/4; Resolution: solved 4 of 5
    # -> 0.75, tone flat 0.5 -> (0.75 + 0.5) / 2 = 0.625; (2 * 0.25 + 1 * 0.625) / 3
    score = score_answers(
        FORM,
        {
            "greet": "yes",
            "name": "no",
            "solved": 4,
            "tone": "flat",
            "notes": "fine",
            "verified": "yes",
        },
    )
    assert score.percent == pytest.approx(100 * (2 * 0.25 + 0.625) / 3, abs=0.01)
    assert not score.auto_failed


def test_na_leaves_the_question_out_of_both_sums() -> None:
    with_na = score_answers(FORM, {"greet": "yes", "name": "na", "solved": 5, "tone": "warm"})
    assert with_na.percent == 100.0
    assert with_na.answers["name"] == {"value": "na", "root_causes": []}
    with pytest.raises(ValidationFailed, match="cannot be N/A"):
        score_answers(FORM, {"greet": "na"})


def test_a_bonus_section_can_lift_the_score_above_100() -> None:
    score = score_answers(FORM, {"greet": "yes", "solved": 5, "extra": "yes"})
    # standard: (2 * 1 + 1 * 1) / 3 = 1; bonus 0.5 * 1 / 3 on top
    assert score.percent == pytest.approx(100 * (3 + 0.5) / 3, abs=0.01)
    assert score.percent > 100


def test_a_failed_auto_fail_section_or_critical_question_scores_zero() -> None:
    assert score_answers(FORM, {"greet": "yes", "verified": "no"}).percent == 0.0
    assert score_answers(FORM, {"greet": "yes", "verified": "no"}).auto_failed
    critical = {
        **FORM,
        "sections": [{**FORM["sections"][0], "questions": [q("greet", critical=True), q("name")]}],
    }
    failed = score_answers(critical, {"greet": "no", "name": "yes"})
    assert (failed.percent, failed.auto_failed) == (0.0, True)
    assert score_answers(critical, {"greet": "yes", "name": "no"}).percent == 50.0


def test_root_causes_only_on_a_negative_answer_and_from_the_list() -> None:
    score = score_answers(FORM, {"solved": {"value": 2, "root_causes": ["tools"]}})
    assert score.answers["solved"] == {"value": 2, "root_causes": ["tools"]}
    with pytest.raises(ValidationFailed, match="root_causes"):
        score_answers(FORM, {"solved": {"value": 2, "root_causes": ["weather"]}})
    with pytest.raises(ValidationFailed, match="negative"):
        score_answers(FORM, {"solved": {"value": 5, "root_causes": ["tools"]}})


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"greet": "maybe"}, "yes or no"),
        ({"solved": 6}, "1 to 5"),
        ({"solved": True}, "1 to 5"),
        ({"tone": "sarcastic"}, "pick one"),
        ({"nope": "yes"}, "not a question"),
    ],
)
def test_bad_answers_are_refused_with_a_message(answers: dict, message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        score_answers(FORM, answers)


def test_nothing_scored_is_no_score() -> None:
    assert score_answers(FORM, {"notes": "only text"}).percent is None


def test_gwet_ac1_matches_a_hand_computed_value() -> None:
    # 5 items, raters agree on 4: pa = 0.8. "y" used 4 + 3 times of 10: pi_y = 0.7,
    # pi_n = 0.3; pe = (0.7 * 0.3 + 0.3 * 0.7) / (2 - 1) = 0.42;
    # AC1 = (0.8 - 0.42) / (1 - 0.42) = 0.655172...
    pairs = [("y", "y"), ("y", "y"), ("y", "n"), ("n", "n"), ("y", "y")]
    assert gwet_ac1(pairs) == pytest.approx(0.38 / 0.58)
    assert gwet_ac1([("a", "a"), ("a", "a")]) == 1.0
    assert gwet_ac1([]) is None
    # three categories: pa = 1/3; pi = (a 2/6, b 2/6, c 2/6): pe = 3 * (1/3 * 2/3) / 2 = 1/3
    assert gwet_ac1([("a", "a"), ("b", "c"), ("c", "b")]) == pytest.approx(0.0)

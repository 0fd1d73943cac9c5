"""Conversation stats of one engagement, per role, from its turns' times, roles and text
(the exact definitions: docs/conversation-stats.md). Pure: no database, no audio; the
Stats pipeline step stores the result in `meta["stats"]` and flat numbers in `facts`."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# a gap where nobody speaks longer than this is a hold span (seconds)
HOLD_MIN_S = 10.0

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_SENTENCE = re.compile(r"[^.?!]+[.?!]*")
_QUESTION_START = re.compile(
    r"^(what|when|where|who|whom|whose|why|which|how|is|are|am|was|were|do|does|did|"
    r"can|could|will|would|shall|should|may|might|have|has|had|isn't|aren't|don't|"
    r"doesn't|didn't|won't|wouldn't|can't|couldn't)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class TurnSpan:
    """What the stats need of a turn."""

    role: str
    start_ms: int
    end_ms: int
    text: str = ""


def _union_ms(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _s(ms: float) -> float:
    return round(ms / 1000.0, 3)


def count_words(text: str) -> int:
    return len(_WORD.findall(text))


def count_questions(text: str) -> int:
    """Sentences ending in `?`; in a turn without any sentence punctuation (a transcript
    without it), sentences that open with an interrogative word."""
    punctuated = any(ch in text for ch in ".?!")
    count = 0
    for sentence in _SENTENCE.findall(text):
        body = sentence.strip()
        if not body:
            continue
        if body.endswith("?") or (not punctuated and _QUESTION_START.match(body)):
            count += 1
    return count


def conversation_stats(
    turns: Sequence[TurnSpan],
    *,
    voice: bool = True,
    times_real: bool = True,
    duration_ms: int | None = None,
    hold_min_s: float = HOLD_MIN_S,
) -> dict[str, Any]:
    """The stats of one engagement. `voice`: spoken turns (talk, silence and pace mean
    something); `times_real`: the turn times are real (interruptions, response times and
    patience are computed only then); `duration_ms`: the recording's length when known
    (silence runs to it), else the last turn's end."""
    roles = sorted({t.role for t in turns})
    ordered = sorted(turns, key=lambda t: (t.start_ms, t.end_ms))
    out: dict[str, Any] = {
        "talk_s": None,
        "talk_ratio": None,
        "longest_monologue_s": None,
        "interruptions": None,
        "silence_share": None,
        "hold_s": None,
        "hold_spans": None,
        "response_time_s": None,
        "patience_s": None,
        "wpm": None,
        "questions": {r: sum(count_questions(t.text) for t in turns if t.role == r) for r in roles},
        "hold_min_s": hold_min_s,
    }
    if times_real and len(roles) > 1:
        out["response_time_s"], out["patience_s"] = _response_times(ordered, roles)
    if not voice:
        return out

    talk_ms = {r: _talk_ms(t for t in turns if t.role == r) for r in roles}
    total_talk = sum(talk_ms.values())
    out["talk_s"] = {r: _s(v) for r, v in talk_ms.items()}
    out["talk_ratio"] = {
        r: (round(v / total_talk, 4) if total_talk else None) for r, v in talk_ms.items()
    }
    out["longest_monologue_s"] = _longest_monologues(ordered, roles)
    words = {r: sum(count_words(t.text) for t in turns if t.role == r) for r in roles}
    out["wpm"] = {
        r: (round(words[r] * 60_000 / talk_ms[r], 1) if talk_ms[r] else None) for r in roles
    }

    speech = _union_ms((t.start_ms, t.end_ms) for t in turns)
    end = max([duration_ms or 0] + [e for _, e in speech])
    if end > 0:
        gaps: list[tuple[int, int]] = []
        cursor = 0
        for start, stop in speech:
            if start > cursor:
                gaps.append((cursor, start))
            cursor = max(cursor, stop)
        if end > cursor:
            gaps.append((cursor, end))
        silent = sum(b - a for a, b in gaps)
        out["silence_share"] = round(silent / end, 4)
        holds = [(a, b) for a, b in gaps if (b - a) > hold_min_s * 1000]
        out["hold_s"] = _s(sum(b - a for a, b in holds))
        out["hold_spans"] = [[a, b] for a, b in holds]
    if times_real:
        out["interruptions"] = _interruptions(ordered, roles)
    return out


def _talk_ms(turns: Iterable[TurnSpan]) -> int:
    return sum(b - a for a, b in _union_ms((t.start_ms, t.end_ms) for t in turns))


def _longest_monologues(ordered: Sequence[TurnSpan], roles: list[str]) -> dict[str, float]:
    """A monologue: a maximal run of consecutive turns (by start) of one role, from its
    first turn's start to its latest end."""
    best = dict.fromkeys(roles, 0)
    run_role, run_start, run_end = None, 0, 0
    for turn in ordered:
        if turn.role == run_role:
            run_end = max(run_end, turn.end_ms)
        else:
            run_role, run_start, run_end = turn.role, turn.start_ms, turn.end_ms
        best[turn.role] = max(best[turn.role], run_end - run_start)
    return {r: _s(v) for r, v in best.items()}


def _interruptions(ordered: Sequence[TurnSpan], roles: list[str]) -> dict[str, int]:
    """A turn of one role that starts while another role's turn is in progress (strictly
    after its start, before its end) is one interruption by its role. One sweep by start:
    the latest end of each role's turns that started strictly earlier."""
    counts = dict.fromkeys(roles, 0)
    latest_end: dict[str, int] = {}
    i = 0
    while i < len(ordered):
        j = i
        while j < len(ordered) and ordered[j].start_ms == ordered[i].start_ms:
            j += 1
        group = ordered[i:j]  # same start: none interrupts another
        for turn in group:
            if any(e > turn.start_ms for r, e in latest_end.items() if r != turn.role):
                counts[turn.role] += 1
        for turn in group:
            latest_end[turn.role] = max(latest_end.get(turn.role, turn.end_ms), turn.end_ms)
        i = j
    return counts


def _response_times(
    ordered: Sequence[TurnSpan], roles: list[str]
) -> tuple[dict[str, dict[str, float] | None], dict[str, float | None]]:
    """A response: a turn whose previous turn (by start) is another role's. Its response
    time is from that turn's end to its own start, 0 when it starts before that end.
    Patience: the average of the responses that did not start before the end."""
    gaps: dict[str, list[int]] = {r: [] for r in roles}
    for before, turn in zip(ordered, ordered[1:], strict=False):
        if before.role != turn.role:
            gaps[turn.role].append(turn.start_ms - before.end_ms)
    response: dict[str, dict[str, float] | None] = {}
    patience: dict[str, float | None] = {}
    for role, found in gaps.items():
        clamped = [max(0, g) for g in found]
        response[role] = (
            {"avg": _s(sum(clamped) / len(clamped)), "max": _s(max(clamped))} if clamped else None
        )
        waited = [g for g in found if g >= 0]
        patience[role] = _s(sum(waited) / len(waited)) if waited else None
    return response, patience


# the per-role stats that become flat facts: `<name>_<role>`
_ROLE_FACTS = ("talk_s", "talk_ratio", "longest_monologue_s", "interruptions", "wpm", "questions")


def stats_facts(stats: dict[str, Any]) -> dict[str, float]:
    """The stats as flat numbers for `Engagement.facts` (`facts.talk_s_agent`...):
    only the ones computed."""
    facts: dict[str, float] = {}
    for name in _ROLE_FACTS:
        for role, value in (stats.get(name) or {}).items():
            if value is not None:
                facts[f"{name}_{role}"] = value
    for role, value in (stats.get("response_time_s") or {}).items():
        if value is not None:
            facts[f"response_time_avg_s_{role}"] = value["avg"]
            facts[f"response_time_max_s_{role}"] = value["max"]
    for role, value in (stats.get("patience_s") or {}).items():
        if value is not None:
            facts[f"patience_s_{role}"] = value
    for name in ("silence_share", "hold_s"):
        if stats.get(name) is not None:
            facts[name] = stats[name]
    return facts

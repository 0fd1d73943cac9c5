"""The outcome: cue phrases mapped onto the company's outcome labels."""

from __future__ import annotations

import re
from collections.abc import Sequence

from callscribe.minutes.analyzers import lexicon
from callscribe.minutes.analyzers.base import closest_label, concept_label, norm_label
from callscribe.minutes.analyzers.local.text import Sentence
from callscribe.minutes.schemas import (
    ActionItemDraft,
)

_CONCEPT_WEIGHT = {
    "escalated": 2.5,
    "voicemail": 3.0,
    "sale": 1.6,
    "no sale": 1.3,
    "follow-up needed": 1.0,
    "resolved": 1.0,
    "unresolved": 1.4,
    "informational": 0.4,
}


_CUE_RES: dict[str, re.Pattern[str]] = {
    concept: re.compile(
        r"(?<![a-z])(?:"
        + "|".join(re.escape(c) for c in sorted(spec["cues"], key=len, reverse=True))
        + r")(?![a-z])"
    )
    for concept, spec in lexicon.OUTCOME_CUES.items()
}


RESOLUTION_RE = re.compile(_CUE_RES["resolved"].pattern + "|" + _CUE_RES["escalated"].pattern)


def cue_hits(text: str, cue: str | re.Pattern[str]) -> int:
    hits = 0
    pattern = (
        cue
        if isinstance(cue, re.Pattern)
        else re.compile(r"(?<![a-z])" + re.escape(cue) + r"(?![a-z])")
    )
    for m in pattern.finditer(text):
        before = text[max(0, m.start() - 14) : m.start()]
        if re.search(r"\b(not|no|never|n't|cannot|without)\s+(?:\w+\s+)?$", before):
            continue
        hits += 1
    return hits


def pick_outcome(
    sentences: list[Sentence], labels: Sequence[str], action_items: list[ActionItemDraft]
) -> str:
    if not labels:
        return "unresolved"
    scores: dict[str, float] = {label: 0.0 for label in labels}
    concept_to_label = {c: concept_label(c, labels) for c in lexicon.OUTCOME_CUES}
    speakers = {(s.role, s.speaker) for s in sentences}
    for s in sentences:
        low = s.text.lower().replace("’", "'")
        pos_w = 0.5 + s.position
        for concept in lexicon.OUTCOME_CUES:
            label = concept_to_label[concept]
            if label is None:
                continue
            hits = cue_hits(low, _CUE_RES[concept])
            if not hits:
                continue
            weight = _CONCEPT_WEIGHT[concept]
            if concept == "escalated" and s.role == "agent":
                weight *= 1.5
            if concept == "voicemail" and len(speakers) > 1:
                weight *= 0.2
            scores[label] += hits * weight * pos_w
        # labels not covered by a concept: their own words act as cues
        for label in labels:
            if label in concept_to_label.values():
                continue
            if norm_label(label) and cue_hits(low, norm_label(label)):
                scores[label] += 1.5 * pos_w
    follow_label = concept_to_label.get("follow-up needed")
    if follow_label and any(item.status == "open" and item.owner for item in action_items):
        scores[follow_label] += 0.8 * len(action_items)
    best = max(labels, key=lambda lab: (scores[lab], -labels.index(lab)))
    if scores[best] > 0:
        return best
    for fallback in ("informational", "unresolved"):
        mapped = concept_to_label.get(fallback)
        if mapped:
            return mapped
    return closest_label("unresolved", labels)

"""Sentiment from a compact lexicon, weighted by role and toward the end."""

from __future__ import annotations

import math

from callscribe.minutes.analyzers import lexicon
from callscribe.minutes.analyzers.local.text import WORD_RE, Sentence


def _sentence_valence(text: str) -> float:
    """VADER-like compound score in [-1, 1] with negation, intensifiers and 'but'."""
    low = text.lower().replace("’", "'")
    total = 0.0
    for phrase, value in lexicon.PHRASES.items():
        if phrase in low:
            total += value * low.count(phrase)
            low = low.replace(phrase, " ")
    toks = WORD_RE.findall(low)
    but_at = toks.index("but") if "but" in toks else -1
    for i, tok in enumerate(toks):
        if tok not in lexicon.SENTIMENT:
            continue
        value = lexicon.SENTIMENT[tok]
        if (
            tok == "like"
            and i > 0
            and toks[i - 1]
            in {"would", "i'd", "you'd", "we'd", "looks", "sounds", "feel", "something"}
        ):
            continue
        for j in (i - 1, i - 2):
            if j >= 0 and toks[j] in lexicon.INTENSIFIERS:
                value *= 1 + lexicon.INTENSIFIERS[toks[j]] * (1 if j == i - 1 else 0.7)
        if any(toks[j] in lexicon.NEGATORS for j in range(max(0, i - 3), i)):
            value *= -0.74
        if but_at >= 0:
            value *= 0.5 if i < but_at else 1.5
        total += value
    if total:
        bangs = min(text.count("!"), 3)
        total += math.copysign(0.3 * bangs, total)
        if text.isupper() and len(text) > 8:
            total *= 1.3
    return total / math.sqrt(total * total + 15.0)


_ROLE_WEIGHT = {"customer": 1.0, "unknown": 1.0, "agent": 0.35, "bot": 0.15}


def overall_sentiment(sentences: list[Sentence]) -> str:
    if not sentences:
        return "neutral"
    has_customer = any(s.role == "customer" for s in sentences)
    pos = neg = bearing = neutral_w = 0.0
    strong_pos = strong_neg = 0.0
    for s in sentences:
        role_w = _ROLE_WEIGHT.get(s.role, 1.0) if has_customer else 1.0
        w = role_w * (0.6 + 0.8 * s.position)
        v = _sentence_valence(s.text)
        if abs(v) < 0.05:
            neutral_w += w
            continue
        bearing += w
        if v > 0:
            pos += w * v
            if v >= 0.45 and role_w >= 0.5:
                strong_pos += w * v
        else:
            neg += -w * v
            if v <= -0.45 and role_w >= 0.5:
                strong_neg += -w * v
    if bearing == 0:
        return "neutral"
    if (
        strong_pos
        and strong_neg
        and min(strong_pos, strong_neg) / max(strong_pos, strong_neg) >= 0.4
    ):
        return "mixed"
    net = (pos - neg) / (bearing + 0.1 * neutral_w)
    if net >= 0.18:
        return "positive"
    if net <= -0.12:
        return "negative"
    if pos > 0.6 and neg > 0.6 and min(pos, neg) / max(pos, neg) >= 0.6:
        return "mixed"
    return "neutral"

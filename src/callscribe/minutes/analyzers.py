# ruff: noqa: E501  (regular expressions and prompt text read better unbroken)
"""Analyzers: a transcript (turns) in, a MinutesDraft out.

Two implementations behind one Protocol and a registry:

* ``local`` (default): extractive and rule-based, no network, deterministic, fast.
  TextRank over TF-IDF sentence vectors for the summary, a compact lexicon for
  sentiment, cue phrases for the outcome and regular expressions for commitments.
* ``openai``: any OpenAI-compatible ``/chat/completions`` endpoint with JSON-schema
  structured output, validated with pydantic, retried, chunked map/reduce for long
  transcripts so nothing is silently cut.
"""

from __future__ import annotations

import difflib
import json
import logging
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal, Protocol

import httpx
import numpy as np
from pydantic import ValidationError

from callscribe.errors import CallscribeError
from callscribe.minutes import lexicon
from callscribe.minutes.schemas import (
    ActionItemDraft,
    AnalysisContext,
    MinutesDraft,
    Section,
    TurnIn,
)

log = logging.getLogger(__name__)

PRESETS: dict[str, str] = {
    "openai": "https://api.openai.com/v1",
    "mistral": "https://api.mistral.ai/v1",
}
DEFAULT_MODELS: dict[str, str] = {
    "https://api.openai.com/v1": "gpt-4o-mini",
    "https://api.mistral.ai/v1": "mistral-small-latest",
}

SUBJECT_MAX = 80
TITLE_MAX = 120
LABEL_MAX = 100  # DESIGN: attribute and label values are at most 100 characters
MAX_TAGS = 8


# --------------------------------------------------------------------------- errors


class AnalyzerKeyMissing(CallscribeError):
    """An LLM engine is configured but no API key is set: the call waits for it."""

    code, status = "ai_key_missing", 400


class AnalyzerFailed(CallscribeError):
    """The analyzer could not produce minutes (endpoint down, timed out, bad answers)."""

    code, status = "analysis_failed", 502


class AnalyzerKeyRefused(AnalyzerFailed):
    """The AI endpoint answered 401/403: the key is wrong, revoked or lacks access."""

    code = "ai_key_refused"


# --------------------------------------------------------------------------- protocol


class Analyzer(Protocol):
    name: str

    def analyze(self, turns: Sequence[TurnIn], context: AnalysisContext) -> MinutesDraft: ...


@dataclass(frozen=True)
class AnalyzerConfig:
    engine: str = "local"  # "local" | "openai" (any OpenAI-compatible chat endpoint)
    base_url: str | None = None  # a URL, or a PRESETS name; default: OpenAI
    model: str | None = None  # default: DEFAULT_MODELS for the preset
    api_key: str | None = None
    timeout_s: float = 60  # per HTTP request
    max_retries: int = 2  # retries after a failed or malformed answer, per request
    max_chunk_chars: int = 24000  # transcript characters per LLM request (map step)

    def __repr__(self) -> str:  # never show the key in logs or tracebacks
        key = "***" if self.api_key else None
        return (
            f"AnalyzerConfig(engine={self.engine!r}, base_url={self.base_url!r}, "
            f"model={self.model!r}, api_key={key!r}, timeout_s={self.timeout_s}, "
            f"max_retries={self.max_retries}, max_chunk_chars={self.max_chunk_chars})"
        )

    @classmethod
    def from_settings(cls, **overrides: Any) -> AnalyzerConfig:
        """Config with timeout and retries taken from CALLSCRIBE_AI_* settings."""
        from callscribe.settings import get_settings

        settings = get_settings()
        values: dict[str, Any] = {
            "timeout_s": settings.AI_TIMEOUT_S,
            "max_retries": settings.AI_MAX_RETRIES,
        }
        values.update(overrides)
        return cls(**values)


# =========================================================================== text

_NOISE_RE = re.compile(r"\{[a-z_]+\}|<[^>]{1,30}>|\[(?:noise|laughter|inaudible|crosstalk)\]", re.I)
_SPACE_RE = re.compile(r"\s+")
_SPACE_PUNCT_RE = re.compile(r"\s+([,.!?;:])")
_SENT_SPLIT_RE = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Za-z0-9$£€])")
_WORD_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_FILLER_START_RE = re.compile(
    r"^(?:(?:uh|um|uhm|erm|er|hmm|mm|oh|ah|so|well|okay|ok|alright|all right|yeah|yes|yep|"
    r"no|right|sure|hi|hello|hey|great|perfect|thanks|thank you|and|but|excuse me|"
    r"good (?:morning|afternoon|evening))"
    r"\b[\s,.!]*)+",
    re.I,
)


def _clean(text: str) -> str:
    text = _NOISE_RE.sub(" ", text or "")
    text = _SPACE_RE.sub(" ", text).strip()
    text = _SPACE_PUNCT_RE.sub(r"\1", text)
    text = re.sub(r"\b(\w+)(?: \1\b)+", r"\1", text, flags=re.I)  # "I I I think"
    return text


def _words(text: str) -> list[str]:
    return _WORD_RE.findall(text.lower().replace("’", "'"))


def _content_words(text: str) -> list[str]:
    return [
        w for w in _words(text) if w not in lexicon.STOPWORDS and len(w) > 2 and not w.isdigit()
    ]


def _stem(word: str) -> str:
    """A very light stemmer so that 'cards'/'card', 'refunded'/'refund' share a term."""
    for suffix, min_len in (("ies", 5), ("ing", 6), ("ed", 5), ("es", 5), ("s", 4)):
        if word.endswith(suffix) and len(word) >= min_len and not word.endswith("ss"):
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def _split_sentences(text: str) -> list[str]:
    parts = _SENT_SPLIT_RE.split(text)
    out: list[str] = []
    for part in parts:
        part = part.strip()
        if not part:
            continue
        # unpunctuated ASR output: cut very long runs into ~40-word pieces
        words = part.split(" ")
        while len(words) > 60:
            out.append(" ".join(words[:40]))
            words = words[40:]
        out.append(" ".join(words))
    return out


def _truncate(text: str, limit: int) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:-") + "…"


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _ms(ms: int) -> str:
    seconds = max(0, int(ms // 1000))
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


# =========================================================================== local


@dataclass
class _Sentence:
    index: int
    turn: int
    role: str
    speaker: str | None
    text: str
    words: list[str]
    content: list[str]
    position: float = 0.0  # 0 at the start of the call, 1 at the end


_DIARIZATION_LABEL_RE = re.compile(r"^(?:speaker|spk|s|channel|ch)[ _-]?\d+$", re.I)


def _party_label(
    role: str, speaker: str | None, context: AnalysisContext, *, owner: bool = False
) -> str:
    """How a party is named: context name, else a real speaker name (in prose only;
    owners stay "agent"/"customer"), else the role."""
    named = (
        speaker
        if speaker and not owner and not _DIARIZATION_LABEL_RE.match(speaker.strip())
        else None
    )
    if role == "agent":
        if context.agent_name:
            return context.agent_name
        return "agent" if owner else named or "The agent"
    if role == "customer":
        if context.customer_name:
            return context.customer_name
        return "customer" if owner else named or "The customer"
    if speaker:
        return speaker
    if role == "bot":
        return "bot" if owner else "The bot"
    return "speaker" if owner else "A speaker"


def _other_role(role: str) -> str | None:
    return {"agent": "customer", "customer": "agent"}.get(role)


# third-person rewrite of a leading first-person clause ("I need" -> "needs")
_FIRST_PERSON = [
    (
        re.compile(
            r"^i(?:'m| am) (?=calling|trying|looking|having|going|not|unable|still|interested)",
            re.I,
        ),
        "is ",
    ),
    (re.compile(r"^i(?:'m| am) ", re.I), "is "),
    (
        re.compile(r"^i(?:'ve| have) (?=\w+ed\b|been|got|had|made|done|sent|seen|lost)", re.I),
        "has ",
    ),
    (re.compile(r"^i(?:'ve| have) ", re.I), "has "),
    (re.compile(r"^i(?:'d| would) like ", re.I), "would like "),
    (re.compile(r"^i(?:'ll| will) ", re.I), "will "),
    (re.compile(r"^i(?:'d| would) ", re.I), "would "),
    (
        re.compile(
            r"^i (can(?:'t|not)?|could(?:n't)?|was|did(?:n't)?|got|just|also|should|must|might|may)\b ?",
            re.I,
        ),
        r"\1 ",
    ),
    (
        re.compile(
            r"^i (lost|had|made|sent|saw|forgot|received|bought|ordered|paid|called|tried|noticed|went|left|found|spoke|talked|never|already|(?!need\b|feed\b|proceed\b|exceed\b|succeed\b)\w+ed)\b ?",
            re.I,
        ),
        r"\1 ",
    ),
    (re.compile(r"^(?:i )?(just (?:wanted|needed|called))\b ?", re.I), r"\1 "),
    (re.compile(r"^i don't ", re.I), "doesn't "),
    (re.compile(r"^i do not ", re.I), "does not "),
    (
        re.compile(
            r"^i (need|want|think|have|see|know|understand|believe|hope|guess|wonder|feel|agree|live|work|use|mean|like|recommend|suggest)\b ?",
            re.I,
        ),
        None,
    ),
]
_THIRD_S = {"have": "has"}


def _second_to_third(text: str, listener: str) -> str:
    """Address to the other party ("you", "your") in the third person."""
    for phrase, verb in (
        ("you're", "is"),
        ("you are", "is"),
        ("you were", "was"),
        ("you've", "has"),
        ("you have", "has"),
        ("you'll", "will"),
        ("you'd", "would"),
    ):
        text = re.sub(rf"\b{phrase}\b", f"{listener} {verb}", text, flags=re.I)
    text = re.sub(r"\byourself\b", listener, text, flags=re.I)
    text = re.sub(r"\byour\b", f"{listener}'s", text, flags=re.I)
    return re.sub(r"\byou\b", listener, text, flags=re.I)


def _third_person(text: str, label: str, listener: str | None = None) -> str | None:
    body = _FILLER_START_RE.sub("", text).strip()
    for pattern, replacement in _FIRST_PERSON:
        m = pattern.match(body)
        if not m:
            continue
        if replacement is None:
            verb = m.group(1).lower()
            verb = _THIRD_S.get(verb, verb + ("es" if verb.endswith(("sh", "ch", "ss")) else "s"))
            rest = body[m.end() :]
        else:
            verb = m.expand(replacement).strip()
            rest = body[m.end() :]
        rest = re.split(r",\s*(?:can|could|would) you\b", rest, maxsplit=1, flags=re.I)[0]
        rest = re.sub(r"\bmy\b", "their", rest, flags=re.I)
        rest = re.sub(r"\bmyself\b", "themselves", rest, flags=re.I)
        rest = re.sub(r"\bmine\b", "theirs", rest, flags=re.I)
        rest = re.sub(r"\bme\b", "them", rest, flags=re.I)
        rest = re.sub(r"\bI'm\b", "they are", rest)
        rest = re.sub(r"\bI\b", "they", rest)
        if listener:
            rest = _second_to_third(rest, listener)
        out = f"{label} {verb} {rest}".strip()
        out = _SPACE_RE.sub(" ", out)
        return out if out.endswith((".", "!", "?")) else out + "."
    return None


def _summary_sentence(sent: _Sentence, context: AnalysisContext) -> str:
    label = _party_label(sent.role, sent.speaker, context)
    other = _other_role(sent.role)
    listener = None
    if other:
        listener = _party_label(other, None, context)
        listener = listener[0].lower() + listener[1:] if listener.startswith("The ") else listener
    rewritten = _third_person(sent.text, label, listener)
    if rewritten:
        return _capitalize(rewritten)
    body = sent.text.strip()
    if not body.endswith((".", "!", "?")):
        body += "."
    return (
        f"{label}: {_capitalize(body)}"
        if not label.startswith("The ")
        else f"{label.replace('The ', '', 1).capitalize()}: {_capitalize(body)}"
    )


# --------------------------------------------------------------------------- TextRank


_TEXTRANK_MAX_SENTENCES = 1500  # ~1.5 hours of speech; beyond, the n x n graph costs too much


def _centroid_scores(rows: list[Counter[str]], n: int) -> np.ndarray:
    """Very long calls: cosine similarity of each sentence to the document centroid,
    sparse, O(n) memory instead of an n x n graph (and a dense n x vocabulary matrix)."""
    df: Counter[str] = Counter()
    for counts in rows:
        df.update(counts.keys())
    idf = {t: math.log((1.0 + n) / (1.0 + d)) + 1.0 for t, d in df.items()}
    vectors: list[dict[str, float]] = []
    centroid: dict[str, float] = {}
    for counts in rows:
        vec = {t: (1.0 + math.log(c)) * idf[t] for t, c in counts.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        vec = {t: v / norm for t, v in vec.items()}
        vectors.append(vec)
        for t, v in vec.items():
            centroid[t] = centroid.get(t, 0.0) + v
    cnorm = math.sqrt(sum(v * v for v in centroid.values())) or 1.0
    return np.array([sum(v * centroid[t] for t, v in vec.items()) / cnorm for vec in vectors]) / n


def _textrank(sentences: list[_Sentence]) -> np.ndarray:
    """Centrality of each sentence in the TF-IDF cosine-similarity graph."""
    n = len(sentences)
    if n == 0:
        return np.zeros(0)
    vocab: dict[str, int] = {}
    rows: list[Counter[str]] = []
    for s in sentences:
        counts = Counter(_stem(w) for w in s.content)
        rows.append(counts)
        for term in counts:
            vocab.setdefault(term, len(vocab))
    if not vocab:
        return np.ones(n) / n
    if n > _TEXTRANK_MAX_SENTENCES:
        return _centroid_scores(rows, n)
    tf = np.zeros((n, len(vocab)))
    for i, counts in enumerate(rows):
        for term, c in counts.items():
            tf[i, vocab[term]] = 1.0 + math.log(c)
    df = (tf > 0).sum(axis=0)
    idf = np.log((1.0 + n) / (1.0 + df)) + 1.0
    mat = tf * idf
    norms = np.linalg.norm(mat, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    mat = mat / norms
    sim = mat @ mat.T
    np.fill_diagonal(sim, 0.0)
    row_sums = sim.sum(axis=1, keepdims=True)
    row_sums[row_sums == 0] = 1.0
    trans = sim / row_sums
    scores = np.ones(n) / n
    damping = 0.85
    for _ in range(50):
        new = (1 - damping) / n + damping * (trans.T @ scores)
        if np.abs(new - scores).sum() < 1e-7:
            scores = new
            break
        scores = new
    return scores


def _similarity(a: list[str], b: list[str]) -> float:
    sa, sb = {_stem(w) for w in a}, {_stem(w) for w in b}
    if not sa or not sb:
        return 0.0
    return len(sa & sb) / math.sqrt(len(sa) * len(sb))


# --------------------------------------------------------------------------- keyphrases


def _keyphrases(sentences: list[_Sentence], limit: int) -> list[str]:
    """Frequent content unigrams and bigrams (adjacent content words), best first."""
    uni: dict[str, float] = {}
    bi: dict[str, float] = {}
    first_seen: dict[str, int] = {}
    surface: dict[str, str] = {}
    for s in sentences:
        weight = 1.5 if s.role == "customer" else 1.0
        toks = _words(s.text)
        prev: str | None = None
        for tok in toks:
            is_content = (
                tok not in lexicon.STOPWORDS
                and tok not in lexicon.TAG_STOPWORDS
                and len(tok) > 2
                and not any(ch.isdigit() for ch in tok)
                and tok not in lexicon.SENTIMENT
            )
            if not is_content:
                prev = None
                continue
            if tok.endswith(("ing", "ed")) and len(tok) > 5:  # verb forms: only inside phrases
                if prev is not None:
                    bkey = f"{prev} {_stem(tok)}"
                    bi[bkey] = bi.get(bkey, 0.0) + weight
                    surface.setdefault(bkey, f"{surface[prev]} {tok}")
                    first_seen.setdefault(bkey, s.index)
                prev = None
                continue
            key = _stem(tok)
            surface.setdefault(key, tok)
            uni[key] = uni.get(key, 0.0) + weight
            first_seen.setdefault(key, s.index)
            if prev is not None:
                bkey = f"{prev} {key}"
                bi[bkey] = bi.get(bkey, 0.0) + weight
                surface.setdefault(bkey, f"{surface[prev]} {tok}")
                first_seen.setdefault(bkey, s.index)
            prev = key
    scored: list[tuple[float, int, str]] = []
    for key, c in uni.items():
        scored.append((c, first_seen[key], key))
    for key, c in bi.items():
        if c >= 2:
            scored.append((c * 1.6, first_seen[key], key))
    scored.sort(key=lambda x: (-x[0], x[1], x[2]))
    chosen: list[str] = []
    for score, _, key in scored:
        if score < 2 and chosen:
            break
        parts = key.split(" ")
        if any(
            key in c.split(" ") or (len(parts) == 2 and set(parts) & set(c.split(" ")))
            for c in chosen
        ):
            continue
        chosen.append(key)
        if len(chosen) >= limit:
            break
    return [surface[k] for k in chosen]


# --------------------------------------------------------------------------- sentiment


def _sentence_valence(text: str) -> float:
    """VADER-like compound score in [-1, 1] with negation, intensifiers and 'but'."""
    low = text.lower().replace("’", "'")
    total = 0.0
    for phrase, value in lexicon.PHRASES.items():
        if phrase in low:
            total += value * low.count(phrase)
            low = low.replace(phrase, " ")
    toks = _WORD_RE.findall(low)
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


def _overall_sentiment(sentences: list[_Sentence]) -> str:
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


# --------------------------------------------------------------------------- outcome


def _norm_label(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", label.lower()).strip()


def _label_similarity(a: str, b: str) -> float:
    na, nb = _norm_label(a), _norm_label(b)
    if na == nb:
        return 1.0
    ratio = difflib.SequenceMatcher(None, na, nb).ratio()
    ta, tb = set(na.split()), set(nb.split())
    overlap = len(ta & tb) / max(len(ta | tb), 1)
    return max(ratio, overlap)


def closest_label(value: str, labels: Sequence[str]) -> str:
    """The configured label nearest to ``value`` (exact, alias, then string similarity)."""
    if not labels:
        return value
    for label in labels:
        if _norm_label(label) == _norm_label(value):
            return label
    concept = _norm_label(value)
    for name, spec in lexicon.OUTCOME_CUES.items():
        aliases = [name, *spec["aliases"]]
        if concept in {_norm_label(a) for a in aliases}:
            mapped = _concept_label(name, labels)
            if mapped:
                return mapped
    return max(labels, key=lambda lab: (_label_similarity(value, lab), -labels.index(lab)))


def _concept_label(concept: str, labels: Sequence[str]) -> str | None:
    aliases = [concept, *lexicon.OUTCOME_CUES[concept]["aliases"]]
    best, best_score = None, 0.0
    for label in labels:
        score = max(_label_similarity(label, a) for a in aliases)
        if score > best_score:
            best, best_score = label, score
    return best if best_score >= 0.75 else None


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
_RESOLUTION_RE = re.compile(_CUE_RES["resolved"].pattern + "|" + _CUE_RES["escalated"].pattern)


def _cue_hits(text: str, cue: str | re.Pattern[str]) -> int:
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


def _outcome(
    sentences: list[_Sentence], labels: Sequence[str], action_items: list[ActionItemDraft]
) -> str:
    if not labels:
        return "unresolved"
    scores: dict[str, float] = {label: 0.0 for label in labels}
    concept_to_label = {c: _concept_label(c, labels) for c in lexicon.OUTCOME_CUES}
    speakers = {(s.role, s.speaker) for s in sentences}
    for s in sentences:
        low = s.text.lower().replace("’", "'")
        pos_w = 0.5 + s.position
        for concept in lexicon.OUTCOME_CUES:
            label = concept_to_label[concept]
            if label is None:
                continue
            hits = _cue_hits(low, _CUE_RES[concept])
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
            if _norm_label(label) and _cue_hits(low, _norm_label(label)):
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


# --------------------------------------------------------------------------- due dates

_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_MONTH_RE = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twelve": 12,
    "fourteen": 14,
    "twenty": 20,
    "thirty": 30,
    "a": 1,
    "an": 1,
    "twenty-four": 24,
    "forty-eight": 48,
    "seventy-two": 72,
}
_NUM = r"(\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|twelve|fourteen|twenty|thirty|twenty-four|forty-eight|seventy-two|a|an)"
_DUE_RE = re.compile(
    r"\b(?:(?:by|on|before|until|no later than|for)\s+)?(?:"
    r"(?P<eod>(?:the\s+)?end of (?:the |to)?day|close of business|eod|cob)"
    r"|(?P<eow>(?:the\s+)?end of (?:the |this )?week)"
    r"|(?P<dat>the day after tomorrow)"
    r"|(?P<today>today|tonight|this (?:morning|afternoon|evening))"
    r"|(?P<tomorrow>tomorrow(?: morning| afternoon| evening)?)"
    r"|(?P<nextweek>next week|early next week)"
    r"|(?P<nextmonth>next month)"
    r"|(?:(?P<wkmod>this|next|coming)\s+)?(?P<weekday>monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
    r"|(?:within|in)\s+(?:the\s+next\s+)?"
    + _NUM
    + r"\s+(?P<unit>business days?|working days?|days?|hours?|weeks?)"
    r"|" + _NUM.replace("(", "(?P<num2>", 1) + r"\s+(?P<unit2>business days?|working days?)"
    r"|(?P<month>" + _MONTH_RE[1:-1] + r")\.?\s+(?P<mday>\d{1,2})(?:st|nd|rd|th)?"
    r"|(?:the\s+)?(?P<mday2>\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<month2>"
    + _MONTH_RE[1:-1]
    + r")"
    r"|(?P<iso>\d{4}-\d{2}-\d{2})"
    r")\b",
    re.I,
)


def _month_index(name: str) -> int:
    name = name.lower()[:3]
    return [m[:3] for m in _MONTHS].index(name) + 1


def _add_business_days(start: date, n: int) -> date:
    day = start
    while n > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def _resolve_due(m: re.Match[str], base: date | None) -> str:
    phrase = m.group(0).strip()
    g = m.groupdict()
    if g["iso"]:
        return g["iso"]
    if base is None:
        return phrase
    if g["eod"] or g["today"]:
        return base.isoformat()
    if g["tomorrow"]:
        return (base + timedelta(days=1)).isoformat()
    if g["dat"]:
        return (base + timedelta(days=2)).isoformat()
    if g["eow"]:
        ahead = (4 - base.weekday()) % 7
        return (base + timedelta(days=ahead)).isoformat()
    if g["nextweek"]:
        return (base + timedelta(days=7 - base.weekday())).isoformat()  # Monday of next week
    if g["nextmonth"]:
        year, month = (base.year + 1, 1) if base.month == 12 else (base.year, base.month + 1)
        return date(year, month, 1).isoformat()
    if g["weekday"]:
        target = _WEEKDAYS.index(g["weekday"].lower())
        ahead = (target - base.weekday()) % 7 or 7
        if (g["wkmod"] or "").lower() == "next" and base.weekday() + ahead < 7:
            ahead += 7  # "next Friday" said on a Monday: the Friday of next week
        return (base + timedelta(days=ahead)).isoformat()
    num_raw = g.get("num2") or next(
        (x for x in m.groups() if x and x.lower() in _NUMBER_WORDS or (x and x.isdigit())), None
    )
    unit = (g["unit"] or g["unit2"] or "").lower()
    if unit and num_raw:
        n = int(num_raw) if num_raw.isdigit() else _NUMBER_WORDS[num_raw.lower()]
        if unit.startswith(("business", "working")):
            return _add_business_days(base, n).isoformat()
        if unit.startswith("hour"):
            return (base + timedelta(days=max(1, math.ceil(n / 24)))).isoformat()
        if unit.startswith("week"):
            return (base + timedelta(weeks=n)).isoformat()
        return (base + timedelta(days=n)).isoformat()
    month_name, mday = g["month"] or g["month2"], g["mday"] or g["mday2"]
    if month_name and mday:
        try:
            resolved = date(base.year, _month_index(month_name), int(mday))
        except ValueError:
            return phrase
        if resolved < base - timedelta(days=60):
            resolved = resolved.replace(year=base.year + 1)
        return resolved.isoformat()
    return phrase


# --------------------------------------------------------------------------- action items

_ACTION_VERBS = frozenset(
    [
        "send",
        "email",
        "e-mail",
        "mail",
        "text",
        "call",
        "ring",
        "phone",
        "follow",
        "get",
        "reach",
        "check",
        "look",
        "process",
        "refund",
        "credit",
        "issue",
        "ship",
        "deliver",
        "schedule",
        "arrange",
        "book",
        "set",
        "setup",
        "cancel",
        "update",
        "forward",
        "reset",
        "review",
        "prepare",
        "share",
        "submit",
        "file",
        "order",
        "replace",
        "fix",
        "escalate",
        "investigate",
        "confirm",
        "contact",
        "notify",
        "transfer",
        "write",
        "draft",
        "organize",
        "organise",
        "create",
        "make",
        "put",
        "pay",
        "return",
        "resend",
        "reissue",
        "expedite",
        "waive",
        "reverse",
        "apply",
        "add",
        "remove",
        "change",
        "upgrade",
        "downgrade",
        "activate",
        "deactivate",
        "open",
        "close",
        "provide",
        "research",
        "find",
        "try",
        "test",
        "install",
        "finish",
        "complete",
        "handle",
        "sort",
        "talk",
        "speak",
        "discuss",
        "present",
        "design",
        "bring",
        "visit",
        "sign",
        "draw",
        "report",
        "mention",
        "come",
        "meet",
        "give",
        "let",
    ]
)
_STRONG_VERBS = frozenset(
    [
        "send",
        "email",
        "e-mail",
        "mail",
        "text",
        "call",
        "ring",
        "phone",
        "follow",
        "get",
        "reach",
        "ship",
        "schedule",
        "arrange",
        "book",
        "forward",
        "resend",
        "reissue",
        "escalate",
        "notify",
        "contact",
        "refund",
        "expedite",
        "prepare",
        "share",
        "submit",
    ]
)
_COMMIT_RE = re.compile(
    r"\b(?P<trig>i(?:'ll| will| shall)|we(?:'ll| will| shall)|i(?:'m| am) going to|we(?:'re| are) going to|"
    r"i(?:'m| am) gonna|we(?:'re| are) gonna|let me|let us|let's|i can|we can|i'll make sure to|i need to|"
    r"i have to|we need to|we have to)\s+"
    r"(?P<body>.+)",
    re.I,
)
_REQUEST_RE = re.compile(
    r"\b(?P<trig>please|can you|could you|would you|will you|can you please|could you please|"
    r"make sure (?:to|you)|don't forget to|remember to|you need to|you should|you'll need to|you will need to)\s+"
    r"(?P<body>.+)",
    re.I,
)
_ADVERB_START_RE = re.compile(
    r"^(?:(?:also|just|definitely|certainly|personally|then|now|quickly|go ahead and|be sure to|"
    r"make sure to|try to|try and|please|actually|first|immediately|right away|gladly|be able to)\s+)+",
    re.I,
)
_CLAUSE_END_RE = re.compile(
    r"(?:[.!?;]|\s+(?:but|because|since|although|so that|if|okay|ok)\b|,\s*(?:and |so |okay|alright|if ))",
    re.I,
)
_IN_CALL_OBJECTS = re.compile(
    r"\b(?:your name|your full name|your username|your email address|your account number|"
    r"your order id|your order number|your phone number|your zip|your address|the spelling|"
    r"hold|a moment|a second|a minute|me know)\b",
    re.I,
)


def _owner(role: str, speaker: str | None, context: AnalysisContext) -> str:
    return _party_label(role, speaker, context, owner=True)


def _rewrite_title(
    body: str, speaker_role: str, owner_role: str | None, context: AnalysisContext
) -> str:
    speaker_ref = (
        "the agent"
        if speaker_role == "agent"
        else "the customer"
        if speaker_role == "customer"
        else None
    )
    listener_role = _other_role(speaker_role)
    listener_ref = (
        (context.customer_name or "the customer")
        if listener_role == "customer"
        else (context.agent_name or "the agent")
        if listener_role == "agent"
        else None
    )
    if speaker_role == "agent" and context.agent_name:
        speaker_ref = context.agent_name
    if speaker_role == "customer" and context.customer_name:
        speaker_ref = context.customer_name
    if listener_ref:
        for contraction, verb in (
            ("you'd", "would"),
            ("you're", "is"),
            ("you've", "has"),
            ("you'll", "will"),
        ):
            body = re.sub(rf"\b{contraction}\b", f"{listener_ref} {verb}", body, flags=re.I)
        body = re.sub(r"\byourself\b", listener_ref, body, flags=re.I)
        body = re.sub(r"\byour\b", f"{listener_ref}'s", body, flags=re.I)
        body = re.sub(r"\byou\b", listener_ref, body, flags=re.I)
    if speaker_ref:
        body = re.sub(r"\bmyself\b", speaker_ref, body, flags=re.I)
        body = re.sub(r"\bmy\b", f"{speaker_ref}'s", body, flags=re.I)
        body = re.sub(r"\bme\b", speaker_ref, body, flags=re.I)
    body = re.sub(r"\bthe (agent|customer)'s\b", r"the \1's", body)
    return body


def _action_items(sentences: list[_Sentence], context: AnalysisContext) -> list[ActionItemDraft]:
    base = context.started_at.date() if context.started_at else None
    items: list[tuple[ActionItemDraft, set[str]]] = []
    for s in sentences:
        text = s.text.replace("’", "'")
        for regex, is_request in ((_COMMIT_RE, False), (_REQUEST_RE, True)):
            m = regex.search(text)
            if not m:
                continue
            trig = m.group("trig").lower()
            body = _ADVERB_START_RE.sub("", m.group("body")).strip()
            end = _CLAUSE_END_RE.search(body)
            clause = body[: end.start()] if end else body
            clause = clause.strip(" ,")
            first = _words(clause)[:1]
            if not first:
                continue
            verb = first[0]
            go_ahead = re.match(r"go ahead and (\w+)", clause, re.I)
            if go_ahead:
                verb = go_ahead.group(1).lower()
            due_match = _DUE_RE.search(body)
            weak_trigger = (
                trig
                in {
                    "let me",
                    "let us",
                    "let's",
                    "i can",
                    "we can",
                    "i need to",
                    "i have to",
                    "we need to",
                    "we have to",
                }
                or is_request
            )
            if verb not in _ACTION_VERBS:
                continue
            if weak_trigger and verb not in _STRONG_VERBS and not due_match:
                continue
            if (
                verb
                in {"let", "come", "give", "make", "put", "get", "talk", "speak", "check", "look"}
                and not due_match
                and verb not in _STRONG_VERBS
            ):
                continue
            if verb == "get" and not re.match(
                r"get (?:back|in touch|you|that|it|the|a|an|this)", clause, re.I
            ):
                continue
            if _IN_CALL_OBJECTS.search(clause) and not due_match:
                continue
            if is_request and s.role not in {"agent", "customer"}:
                owner_role: str | None = None
            elif is_request:
                owner_role = _other_role(s.role)
            else:
                owner_role = s.role
            if trig in {"let's", "let us"}:
                owner_role = None
            if due_match:
                clause = clause.replace(due_match.group(0), " ")
            title = _rewrite_title(clause, s.role, owner_role, context)
            title = _SPACE_RE.sub(" ", title).strip(" ,.;:-")
            substance = [
                w
                for w in _content_words(title)
                if w not in {"agent", "customer", "agent's", "customer's"}
            ]
            if not substance or len(title) < 6 or " 's" in title:
                continue
            title = _truncate(_capitalize(title), TITLE_MAX)
            low = text.lower()
            due = _resolve_due(due_match, base) if due_match else None
            priority: Literal["high", "medium", "low"]
            if any(w in low for w in lexicon.URGENT_WORDS) or (base and due == base.isoformat()):
                priority = "high"
            elif any(w in low for w in lexicon.LOW_PRIORITY_WORDS):
                priority = "low"
            else:
                priority = "medium"
            if owner_role is None:
                owner = s.speaker if (trig not in {"let's", "let us"} and s.speaker) else None
            elif owner_role == s.role:
                owner = _owner(s.role, s.speaker, context)
            else:
                owner = _owner(owner_role, None, context)
            key = {_stem(w) for w in _content_words(title)}
            duplicate = False
            for existing, existing_key in items:
                overlap = len(key & existing_key) / max(len(key | existing_key), 1)
                if overlap >= 0.6 and existing.owner == owner:
                    duplicate = True
                    if existing.due is None and due:
                        existing.due = due
                    if priority == "high":
                        existing.priority = "high"
                    break
            if not duplicate:
                items.append(
                    (ActionItemDraft(title=title, priority=priority, owner=owner, due=due), key)
                )
            break  # one item per sentence
    return [item for item, _ in items[:12]]


# --------------------------------------------------------------------------- notes

_NOTE_PATTERNS = [
    (
        "Amount",
        re.compile(
            r"(?:[$£€]\s?\d[\d,]*(?:\.\d{1,2})?(?:\s?(?:k|m|million|thousand))?|\b\d[\d,]*(?:\.\d{1,2})?\s?(?:dollars|euros|pounds|bucks|usd|eur|gbp)\b)",
            re.I,
        ),
    ),
    ("Percentage", re.compile(r"\b\d+(?:\.\d+)?\s?(?:%|percent\b)", re.I)),
    (
        "Date",
        re.compile(
            r"\b(?:"
            + _MONTH_RE
            + r"\.?\s+\d{1,2}(?:st|nd|rd|th)?(?:,?\s+\d{4})?|\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?"
            + _MONTH_RE
            + r"|\d{4}-\d{2}-\d{2})\b",
            re.I,
        ),
    ),
    (
        "Deadline",
        re.compile(
            r"\b(?:within|in)\s+"
            + _NUM
            + r"\s+(?:business days?|working days?|days?|hours?|weeks?)\b",
            re.I,
        ),
    ),
    ("Time", re.compile(r"\b\d{1,2}(?::\d{2})?\s?(?:am|pm|a\.m\.|p\.m\.)", re.I)),
    (
        "Reference",
        re.compile(
            r"\b(?:order|account|case|ticket|confirmation|reference|tracking|invoice)\s+(?:number|id|no\.?|#)?\s*:?\s*#?((?=[A-Z0-9-]*\d)[A-Z0-9-]{5,})\b",
            re.I,
        ),
    ),
]


def _notes(sentences: list[_Sentence], context: AnalysisContext) -> list[str]:
    notes: list[str] = []
    seen: set[str] = set()
    for s in sentences:
        for kind, pattern in _NOTE_PATTERNS:
            for m in pattern.finditer(s.text):
                value = m.group(0).strip()
                if kind == "Amount" and not re.search(r"[1-9]", value):
                    continue
                key = f"{kind}:{value.lower()}"
                if key in seen:
                    continue
                seen.add(key)
                who = _party_label(s.role, s.speaker, context)
                snippet = _truncate(s.text, 140)
                notes.append(
                    f'{kind} mentioned by {who[0].lower() + who[1:] if who.startswith("The ") else who}: {value} — "{snippet}"'
                )
                if len(notes) >= 10:
                    return notes
    return notes


# --------------------------------------------------------------------------- subject

_REQUEST_PATTERNS = [
    re.compile(
        r"\b(?:i|we)(?:'m| am| are|'re)? (?:calling|writing|contacting you|reaching out) (?:to|about|regarding|because|for)\s+(?P<x>.+)",
        re.I,
    ),
    re.compile(
        r"\b(?:i |we )?(?:really |just |only )?(?:need|needed|want|wanted|would like|'d like|wanna|wish|hope|was hoping|am hoping) (?:you |someone |somebody )?to\s+(?P<x>.+)",
        re.I,
    ),
    re.compile(
        r"\b(?:i|we) (?:have |had |just )?(?P<x>(?:lost|forgot|misplaced|can't find|cannot find|can't access|cannot access|can't log in|was charged|got charged|was double charged|never received|didn't receive|haven't received)\b.+)",
        re.I,
    ),
    re.compile(r"\b(?:i|we)(?:'d| would) like\s+(?P<x>.+)", re.I),
    re.compile(
        r"\b(?:i|we)(?:'m| am| are|'re) (?:trying|looking|hoping|wanting|interested) (?:to|for|in)\s+(?P<x>.+)",
        re.I,
    ),
    re.compile(r"\b(?:i|we) (?:need|want)\s+(?P<x>.+)", re.I),
    re.compile(
        r"\b(?:a |an |some )?(?:problem|issue|trouble|question|complaint|concern)s? (?:with|about|regarding|on)\s+(?P<x>.+)",
        re.I,
    ),
    re.compile(r"\bhow (?:do|can|could) i\s+(?P<x>.+)", re.I),
    re.compile(
        r"\b(?:can|could) (?:you|i) (?:please )?(?:help me )?(?P<x>(?:get|change|cancel|update|return|check|reset|replace|order|book|find|open|close|transfer|add|remove|pay|make)\b.+)",
        re.I,
    ),
    re.compile(
        r"\b(?:my|the|our) (?P<x>[\w' -]{3,40}?) (?:isn't working|is not working|wasn't working|keeps|won't|doesn't work|does not work|stopped|is broken|was stolen|was declined|got declined|is missing|never arrived|hasn't arrived)\b(?P<y>.*)",
        re.I,
    ),
]


def _subject_from(sentence: str) -> str | None:
    text = _FILLER_START_RE.sub("", sentence.replace("’", "'")).strip()
    for i, pattern in enumerate(_REQUEST_PATTERNS):
        m = pattern.search(text)
        if not m:
            continue
        x = m.group("x")
        if i == len(_REQUEST_PATTERNS) - 1:
            x = m.group(0)
        end = _CLAUSE_END_RE.search(x)
        x = x[: end.start()] if end else x
        x = re.split(
            r",\s|\s(?:and i|and we|can you|could you|please)\b", x, maxsplit=1, flags=re.I
        )[0]
        x = re.sub(r"^(?:a|an|the|some|my|our)\s+", "", x.strip(" ,.?!"), flags=re.I)
        x = re.sub(r"\b(?:my|our)\b", "", x, flags=re.I)
        x = re.sub(r"\b(?:me|us)\s+(?=with\b)", "", x, flags=re.I)
        x = re.sub(r"\bi\b", "they", x)
        x = _SPACE_RE.sub(" ", x).strip(" ,.?!")
        if (
            len(_content_words(x)) >= 1
            and len(x) >= 6
            and not re.fullmatch(
                r"(?:help|talk|speak|ask)(?: \w+)?(?: with)?(?: (?:that|this|it|something))?",
                x,
                re.I,
            )
        ):
            return _truncate(_capitalize(x), SUBJECT_MAX)
    return None


def _subject(sentences: list[_Sentence], tags: list[str]) -> str:
    customer = [s for s in sentences if s.role == "customer"]
    if not customer and tags:  # a meeting or a monologue: name its topics
        return _truncate(_capitalize(", ".join(tags[:3])), SUBJECT_MAX)
    customer = customer or sentences
    for s in customer[:12]:
        subject = _subject_from(s.text)
        if subject:
            return subject
    for s in customer[:6]:
        if len(s.content) >= 3 and (
            "?" in s.text
            or any(w in lexicon.SENTIMENT and lexicon.SENTIMENT[w] < 0 for w in s.words)
        ):
            return _truncate(
                _capitalize(_FILLER_START_RE.sub("", s.text).strip(" ?.!")), SUBJECT_MAX
            )
    if tags:
        return _truncate(_capitalize(", ".join(tags[:3])), SUBJECT_MAX)
    return _truncate(_capitalize(sentences[0].text.strip(" ?.!")), SUBJECT_MAX)


# --------------------------------------------------------------------------- local analyzer


def _sentences_of(turns: Sequence[TurnIn]) -> list[_Sentence]:
    sentences: list[_Sentence] = []
    for t_index, turn in enumerate(turns):
        text = _clean(turn.text)
        if not text:
            continue
        for piece in _split_sentences(text):
            words = _words(piece)
            if not words:
                continue
            sentences.append(
                _Sentence(
                    index=len(sentences),
                    turn=t_index,
                    role=turn.role,
                    speaker=turn.speaker,
                    text=piece,
                    words=words,
                    content=_content_words(piece),
                )
            )
    n = len(sentences)
    for s in sentences:
        s.position = s.index / (n - 1) if n > 1 else 1.0
    return sentences


_SMALL_TALK_RE = re.compile(
    r"\b(?:my name is|this is \w+ (?:from|at|with|speaking)|thank(?:s| you) for (?:calling|contacting|holding|waiting|your patience)|"
    r"how (?:can|may) i (?:help|assist)|have a (?:nice|great|good|wonderful) (?:day|one|evening|weekend)|"
    r"anything else|is there something else|you're welcome|one moment|bear with me|welcome to)\b",
    re.I,
)
_IDENTITY_CHECK_RE = re.compile(
    r"\b(?:order id|e-?mail(?: address)?|username|user name|account (?:id|number)|zip code|"
    r"full name|phone number|membership level|date of birth|security question|pin|"
    r"verify|verification|spell)\b",
    re.I,
)
_ID_RE = re.compile(r"\S+@\S+|\b[a-z]*\d{3,}[a-z\d]*\b", re.I)


def _pick_summary(
    sentences: list[_Sentence], rank: np.ndarray, request: _Sentence | None
) -> list[_Sentence]:
    n = len(sentences)
    k = 2 if n <= 12 else 3 if n <= 60 else 4
    scores = []
    for s, r in zip(sentences, rank, strict=True):
        length = len(s.content)
        length_factor = (
            0.0 if length < 2 else min(1.0, length / 6) * (1.0 if len(s.words) <= 45 else 0.7)
        )
        role_factor = 1.2 if s.role == "customer" else 1.0
        score = r * n * length_factor * role_factor
        if request is not None and s.index == request.index:
            score = score * 1.5 + 1.0
        if "?" in s.text and s.role == "agent":
            score *= 0.4
        if _SMALL_TALK_RE.search(s.text) or _IN_CALL_OBJECTS.search(s.text):
            score *= 0.3
        elif s.role == "agent" and _IDENTITY_CHECK_RE.search(s.text):
            score *= 0.4
        if _ID_RE.search(s.text) and len(s.content) < 5:
            score *= 0.3
        scores.append(score)
    order = sorted(range(n), key=lambda i: (-scores[i], i))
    chosen: list[_Sentence] = []
    for i in order:
        if len(chosen) >= 2 and (scores[i] <= 0 or scores[i] < 0.2 * scores[order[0]]):
            break
        cand = sentences[i]
        if any(_similarity(cand.content, c.content) > 0.6 for c in chosen):
            continue
        chosen.append(cand)
        if len(chosen) >= k:
            break
    if not chosen:
        chosen = [max(sentences, key=lambda s: (len(s.words), -s.index))]
    return sorted(chosen, key=lambda s: s.index)


class LocalAnalyzer:
    """Extractive, rule-based minutes: no network, deterministic, a few ms per call."""

    name = "local"

    def analyze(self, turns: Sequence[TurnIn], context: AnalysisContext) -> MinutesDraft:
        sentences = _sentences_of(turns)
        labels = list(context.outcome_labels)
        if not sentences:
            return MinutesDraft(
                subject="Empty call",
                summary="Nothing was said in this call: the transcript is empty.",
                overview=_overview(turns, context, []),
                sentiment="neutral",
                outcome=closest_label("unresolved", labels) if labels else "unresolved",
            )
        tags = _keyphrases(sentences, MAX_TAGS)
        request = next(
            (
                s
                for s in sentences
                if s.role == "customer" and len(s.content) >= 2 and _subject_from(s.text)
            ),
            next((s for s in sentences if s.role == "customer" and len(s.content) >= 3), None),
        )
        rank = _textrank(sentences)
        picked = _pick_summary(sentences, rank, request)
        summary = " ".join(_summary_sentence(s, context) for s in picked)
        action_items = _action_items(sentences, context)
        outcome = _outcome(sentences, labels, action_items)
        draft = MinutesDraft(
            subject=_subject(sentences, tags),
            summary=summary,
            overview=_overview(turns, context, sentences),
            sentiment=_overall_sentiment(sentences),  # type: ignore[arg-type]
            outcome=outcome,
            sections=_sections(sentences, rank, picked, request, action_items, context),
            action_items=action_items,
            notes=_notes(sentences, context),
            tags=tags,
        )
        return finalize_draft(draft, context)


def _overview(turns: Sequence[TurnIn], context: AnalysisContext, sentences: list[_Sentence]) -> str:
    kind = {
        "voice": "Call",
        "chat": "Chat",
        "email": "Email thread",
        "ticket": "Ticket",
        "meeting": "Meeting",
    }.get(context.channel, _capitalize(context.channel))
    parties = []
    if context.agent_name:
        parties.append(f"agent {context.agent_name}")
    if context.customer_name:
        parties.append(f"customer {context.customer_name}")
    speakers = sorted({t.speaker for t in turns if t.speaker})
    if not parties and speakers:
        parties = speakers[:6]
    text = kind
    if parties:
        text += " with " + ", ".join(parties)
    n_turns = len({s.turn for s in sentences})
    text += f": {n_turns} turn{'s' if n_turns != 1 else ''}"
    end_ms = max((t.end_ms for t in turns), default=0)
    if end_ms > 0:
        text += f", {_ms(end_ms)} long"
    words = sum(len(s.words) for s in sentences)
    return text + f", {words} words."


def _sections(
    sentences: list[_Sentence],
    rank: np.ndarray,
    picked: list[_Sentence],
    request: _Sentence | None,
    action_items: list[ActionItemDraft],
    context: AnalysisContext,
) -> list[Section]:
    sections: list[Section] = []
    used = {s.index for s in picked}
    has_customer = any(s.role == "customer" for s in sentences)
    if request is not None:
        follow = [
            s
            for s in sentences
            if s.role == "customer"
            and request.index < s.index <= request.index + 6
            and len(s.content) >= 3
            and len(s.words) >= 4
            and not _ID_RE.search(s.text)
            and not _SMALL_TALK_RE.search(s.text)
        ][:1]
        bullets = [_truncate(_summary_sentence(s, context), 200) for s in [request, *follow]]
        sections.append(Section(heading="Customer request", bullets=bullets))
        used.update(s.index for s in [request, *follow])
    candidates = [
        s
        for s in sentences
        if s.index not in used
        and len(s.content) >= 3
        and not ("?" in s.text and s.role == "agent")
        and not _SMALL_TALK_RE.search(s.text)
        and not (_ID_RE.search(s.text) and len(s.content) < 5)
    ]
    candidates.sort(key=lambda s: (-rank[s.index] * min(1.0, len(s.content) / 6), s.index))
    discussion: list[_Sentence] = []
    for cand in candidates:
        if any(_similarity(cand.content, d.content) > 0.5 for d in discussion):
            continue
        discussion.append(cand)
        if len(discussion) >= 5:
            break
    if discussion:
        heading = "Discussion" if has_customer else "Main points"
        bullets = [
            _truncate(_summary_sentence(s, context), 200)
            for s in sorted(discussion, key=lambda s: s.index)
        ]
        sections.append(Section(heading=heading, bullets=bullets))
    tail = [s for s in sentences if s.position >= 0.7 and len(s.content) >= 2]
    resolution = [
        s
        for s in tail
        if _cue_hits(s.text.lower(), _RESOLUTION_RE) and not _SMALL_TALK_RE.search(s.text)
    ][-3:]
    if resolution:
        sections.append(
            Section(
                heading="Resolution",
                bullets=[_truncate(_summary_sentence(s, context), 200) for s in resolution],
            )
        )
    if action_items:
        bullets = []
        for item in action_items:
            line = item.title
            if item.owner:
                line += f" ({item.owner}"
                line += f", due {item.due})" if item.due else ")"
            elif item.due:
                line += f" (due {item.due})"
            bullets.append(line)
        sections.append(Section(heading="Next steps", bullets=bullets))
    return sections


def finalize_draft(draft: MinutesDraft, context: AnalysisContext) -> MinutesDraft:
    """Enforce what the store relies on, whichever engine produced the draft."""
    labels = list(context.outcome_labels)
    outcome = draft.outcome
    if labels and outcome not in labels:
        outcome = closest_label(outcome, labels)
    subject = _truncate(_SPACE_RE.sub(" ", draft.subject).strip(), SUBJECT_MAX) or "Call"
    summary = draft.summary.strip() or subject
    tags: list[str] = []
    for tag in draft.tags:
        tag = _truncate(tag.strip(), LABEL_MAX)
        if tag and tag.lower() not in {t.lower() for t in tags}:
            tags.append(tag)
    items: list[ActionItemDraft] = []
    seen: set[tuple[str, str | None]] = set()
    for item in draft.action_items:
        title = _truncate(item.title, TITLE_MAX)
        key = (title.lower(), (item.owner or "").lower() or None)
        if not title or key in seen:
            continue
        seen.add(key)
        owner = _truncate(item.owner, LABEL_MAX) if item.owner else None
        items.append(item.model_copy(update={"title": title, "owner": owner}))
    return draft.model_copy(
        update={
            "subject": subject,
            "summary": summary,
            "outcome": outcome,
            "tags": tags[:MAX_TAGS],
            "action_items": items,
        }
    )


# =========================================================================== LLM

SYSTEM_PROMPT = """You write the minutes of a customer conversation (a call, chat or meeting) for a contact-center team.
Answer with ONE JSON object that matches the given JSON schema, and nothing else.
Fields:
- subject: a short title (at most 80 characters) naming the customer's main request or the meeting's topic.
- summary: 2 to 4 sentences in the third person ("The customer ...", "The agent ...").
- overview: one sentence on who talked and what kind of conversation it was.
- sentiment: the customer's overall sentiment, weighted toward the end: positive, neutral, negative, or mixed (strong positive and negative both present).
- outcome: exactly one of the allowed outcome labels.
- sections: headed bullet lists such as "Customer request", "Discussion", "Resolution", "Next steps".
- action_items: who committed to what, by when. title is an imperative clause (at most 120 characters); owner is "agent", "customer" or a person's name; due is an ISO date (YYYY-MM-DD) when it can be computed from the call date, else the phrase used ("by Friday"), else null; priority is high for urgent or same-day items, low for "no rush", else medium; status is open unless the item was completed during the conversation.
- notes: facts worth keeping (amounts, dates, reference numbers) as short strings.
- tags: up to 8 short keyphrases.
Use only what the transcript says; do not invent names, numbers or commitments."""

MAP_INSTRUCTION = (
    "This is part {part} of {parts} of one long transcript. Write minutes for this part only; "
    "they will be merged with the other parts afterwards. Keep every action item and fact of this part."
)
REDUCE_INSTRUCTION = (
    "Below are partial minutes (JSON), one per consecutive part of the same conversation, in order. "
    "Merge them into the minutes of the whole conversation: one subject, a 2 to 4 sentence summary of the whole, "
    "sentiment and outcome for the conversation as a whole (outcome from the final state), merged sections, "
    "all action items without duplicates, all notes, up to 8 tags."
)


def minutes_json_schema(outcome_labels: Sequence[str] | None = None) -> dict[str, Any]:
    """JSON schema of MinutesDraft for strict structured output: every property
    required, no additional properties, nullable fields as ["string","null"]."""
    string: dict[str, Any] = {"type": "string"}
    strings: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
    outcome: dict[str, Any] = {"type": "string"}
    if outcome_labels:
        outcome = {"type": "string", "enum": list(outcome_labels)}
    section = {
        "type": "object",
        "properties": {"heading": string, "bullets": strings},
        "required": ["heading", "bullets"],
        "additionalProperties": False,
    }
    action = {
        "type": "object",
        "properties": {
            "title": string,
            "priority": {"type": "string", "enum": ["high", "medium", "low"]},
            "status": {"type": "string", "enum": ["open", "done"]},
            "owner": {"type": ["string", "null"]},
            "due": {"type": ["string", "null"]},
        },
        "required": ["title", "priority", "status", "owner", "due"],
        "additionalProperties": False,
    }
    properties = {
        "subject": string,
        "summary": string,
        "overview": string,
        "sentiment": {"type": "string", "enum": ["positive", "neutral", "negative", "mixed"]},
        "outcome": outcome,
        "sections": {"type": "array", "items": section},
        "action_items": {"type": "array", "items": action},
        "notes": strings,
        "tags": strings,
    }
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def transcript_lines(turns: Sequence[TurnIn], max_chars: int) -> list[str]:
    """ "[mm:ss] Agent: text" lines; a turn longer than max_chars is split into several
    lines at sentence or word boundaries so that no text is ever dropped."""
    lines: list[str] = []
    for turn in turns:
        text = _SPACE_RE.sub(" ", turn.text or "").strip()
        if not text:
            continue
        who = turn.speaker or {"agent": "Agent", "customer": "Customer", "bot": "Bot"}.get(
            turn.role, "Speaker"
        )
        if turn.speaker and turn.role in {"agent", "customer"}:
            who = f"{turn.speaker} ({turn.role})"
        prefix = f"[{_ms(turn.start_ms)}] {who}: "
        room = max(200, max_chars - len(prefix) - len(" (cont.)") - 1)
        while len(text) > room:
            cut = text.rfind(". ", 0, room)
            if cut < room // 2:
                cut = text.rfind(" ", 0, room)
            if cut <= 0:
                cut = room
            else:
                cut += 1
            lines.append(prefix + text[:cut].strip())
            text = text[cut:].strip()
            prefix = f"[{_ms(turn.start_ms)}] {who} (cont.): "
        lines.append(prefix + text)
    return lines


def chunk_lines(lines: Sequence[str], max_chars: int) -> list[str]:
    """Pack whole lines into chunks of at most max_chars (a longer single line stays whole)."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        if current and size + len(line) + 1 > max_chars:
            chunks.append("\n".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        chunks.append("\n".join(current))
    return chunks


def _strip_fences(content: str) -> str:
    content = content.strip()
    m = re.match(r"^```(?:json)?\s*(.*?)\s*```$", content, re.S)
    return m.group(1) if m else content


class OpenAIAnalyzer:
    """Minutes from an OpenAI-compatible chat completions endpoint, JSON-schema output."""

    name = "openai"

    def __init__(self, config: AnalyzerConfig, *, client: httpx.Client | None = None) -> None:
        if not (config.api_key or "").strip():
            raise AnalyzerKeyMissing(
                "AI key not set: add an API key for the AI endpoint in the settings"
            )
        base = config.base_url or "openai"
        self.base_url = PRESETS.get(base.lower(), base).rstrip("/")
        self.model = config.model or DEFAULT_MODELS.get(self.base_url, "gpt-4o-mini")
        self.config = config
        self._api_key = (config.api_key or "").strip()
        self._client = client
        self.backoff_cap_s = 5.0  # longest wait between retries, Retry-After included

    # -- public

    def analyze(self, turns: Sequence[TurnIn], context: AnalysisContext) -> MinutesDraft:
        lines = transcript_lines(turns, self.config.max_chunk_chars)
        if not lines:
            return LocalAnalyzer().analyze([], context)  # nothing to ask the model about
        chunks = chunk_lines(lines, self.config.max_chunk_chars)
        schema = minutes_json_schema(context.outcome_labels)
        system = self._system(context)
        own_client = self._client is None
        client = self._client or httpx.Client(timeout=self.config.timeout_s)
        try:
            if len(chunks) == 1:
                draft = self._ask(client, system, f"Transcript:\n{chunks[0]}", schema)
            else:
                partials = [
                    self._ask(
                        client,
                        system,
                        MAP_INSTRUCTION.format(part=i + 1, parts=len(chunks))
                        + f"\n\nTranscript part {i + 1}:\n{chunk}",
                        schema,
                    )
                    for i, chunk in enumerate(chunks)
                ]
                draft = self._reduce(client, system, partials, schema)
        finally:
            if own_client:
                client.close()
        return finalize_draft(draft, context)

    # -- internals

    def _system(self, context: AnalysisContext) -> str:
        lines = [
            SYSTEM_PROMPT,
            "",
            "Allowed outcome labels: " + ", ".join(json.dumps(x) for x in context.outcome_labels),
        ]
        if context.started_at:
            lines.append(
                f"The conversation started on {context.started_at.date().isoformat()} "
                f"({context.started_at.strftime('%A')}); resolve relative dates against it."
            )
        if context.agent_name:
            lines.append(f"The agent's name is {context.agent_name}.")
        if context.customer_name:
            lines.append(f"The customer's name is {context.customer_name}.")
        lines.append(
            f"Channel: {context.channel}. Write the minutes in language: {context.language}."
        )
        return "\n".join(lines)

    def _reduce(
        self,
        client: httpx.Client,
        system: str,
        partials: list[MinutesDraft],
        schema: dict[str, Any],
    ) -> MinutesDraft:
        # merge in groups that fit the budget, then merge the merges (partial minutes are
        # far smaller than the transcript, so one reduce call is the usual case)
        budget = 2 * self.config.max_chunk_chars
        while len(partials) > 1:
            docs = [p.model_dump_json() for p in partials]
            groups: list[list[str]] = []
            size = 0
            for doc in docs:
                if groups and size + len(doc) + 1 <= budget:
                    groups[-1].append(doc)
                    size += len(doc) + 1
                else:
                    groups.append([doc])
                    size = len(doc) + 1
            if len(groups) == len(
                docs
            ):  # nothing fits together: merge pairs, so rounds still shrink
                groups = [docs[i : i + 2] for i in range(0, len(docs), 2)]
            merged = []
            for group in groups:
                if len(group) == 1:
                    merged.append(MinutesDraft.model_validate_json(group[0]))
                    continue
                body = (
                    REDUCE_INSTRUCTION
                    + "\n\n"
                    + "\n".join(f"Part {i + 1}:\n{doc}" for i, doc in enumerate(group))
                )
                merged.append(self._ask(client, system, body, schema))
            partials = merged
        return partials[0]

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    def _ask(
        self, client: httpx.Client, system: str, user: str, schema: dict[str, Any]
    ) -> MinutesDraft:
        messages: list[dict[str, str]] = [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ]
        attempts = self.config.max_retries + 1
        last_problem = "no answer"
        for attempt in range(attempts):
            payload = {
                "model": self.model,
                "messages": messages,
                "temperature": 0,
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "minutes", "strict": True, "schema": schema},
                },
            }
            try:
                response = client.post(
                    f"{self.base_url}/chat/completions",
                    json=payload,
                    headers={"Authorization": f"Bearer {self._api_key}"},
                    timeout=self.config.timeout_s,
                )
            except httpx.TimeoutException:
                last_problem = f"AI endpoint timed out after {self.config.timeout_s:g} s"
                log.warning("minutes: %s (attempt %d/%d)", last_problem, attempt + 1, attempts)
                self._sleep(attempt, None)
                continue
            except httpx.HTTPError as exc:
                last_problem = (
                    f"AI endpoint unreachable ({type(exc).__name__}: {self._scrub(str(exc))[:200]})"
                )
                log.warning("minutes: %s (attempt %d/%d)", last_problem, attempt + 1, attempts)
                self._sleep(attempt, None)
                continue
            status = response.status_code
            if status in (401, 403):
                raise AnalyzerKeyRefused(
                    f"AI endpoint refused the API key (HTTP {status}): check the key and its access to model {self.model}"
                )
            if status == 429 or status >= 500:
                last_problem = f"AI endpoint answered HTTP {status}"
                log.warning("minutes: %s (attempt %d/%d)", last_problem, attempt + 1, attempts)
                self._sleep(attempt, response.headers.get("retry-after"))
                continue
            if status >= 400:
                raise AnalyzerFailed(
                    f"AI endpoint rejected the request (HTTP {status}): {self._scrub(response.text)[:300]}"
                )
            content, problem = self._content(response)
            if content is None:
                last_problem = problem
                continue
            try:
                return MinutesDraft.model_validate_json(_strip_fences(content))
            except ValidationError as exc:
                errors = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
                    for e in exc.errors()[:8]
                )
                last_problem = f"the answer did not match the minutes schema ({errors})"
            log.warning(
                "minutes: malformed answer (attempt %d/%d): %s", attempt + 1, attempts, last_problem
            )
            messages = [
                *messages,
                {"role": "assistant", "content": content[:4000]},
                {
                    "role": "user",
                    "content": f"That answer is not valid: {last_problem}. "
                    "Reply again with only one JSON object that matches the schema exactly.",
                },
            ]
        raise AnalyzerFailed(f"{last_problem} ({attempts} attempt{'s' if attempts != 1 else ''})")

    def _content(self, response: httpx.Response) -> tuple[str | None, str]:
        try:
            data = response.json()
            message = data["choices"][0]["message"]
        except (ValueError, KeyError, IndexError, TypeError):
            return None, "the AI endpoint's answer is not a chat completion"
        if message.get("refusal"):
            return None, f"the model refused: {str(message['refusal'])[:200]}"
        content = message.get("content")
        if not isinstance(content, str) or not content.strip():
            return None, "the model returned empty content"
        return content, ""

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        if attempt >= self.config.max_retries:
            return  # no retry follows
        delay = min(0.5 * 2**attempt, self.backoff_cap_s)
        if retry_after and re.fullmatch(r"\d+(?:\.\d+)?", retry_after.strip()):
            delay = float(retry_after)
        time.sleep(max(0.0, min(delay, self.backoff_cap_s)))


# =========================================================================== registry

AnalyzerFactory = Callable[[AnalyzerConfig], Analyzer]

ANALYZERS: dict[str, AnalyzerFactory] = {
    "local": lambda config: LocalAnalyzer(),
    "openai": lambda config: OpenAIAnalyzer(config),
}


def get_analyzer(config: AnalyzerConfig) -> Analyzer:
    factory = ANALYZERS.get((config.engine or "local").lower())
    if factory is None:
        raise CallscribeError(
            f"Unknown analyzer engine {config.engine!r}; choose one of: {', '.join(sorted(ANALYZERS))}",
            code="analyzer_unknown",
            status=400,
        )
    return factory(config)

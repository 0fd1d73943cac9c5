# ruff: noqa: E501  (regular expressions and prompt text read better unbroken)
"""What every analyzer shares: the Protocol, its config and errors, the AI provider
presets, the registry, and the rules every draft obeys before it is stored."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from callscribe.errors import CallscribeError
from callscribe.minutes.analyzers import lexicon
from callscribe.minutes.schemas import (
    ActionItemDraft,
    AnalysisContext,
    MinutesDraft,
    TurnIn,
)

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


class AnalyzerKeyMissing(CallscribeError):
    """An LLM engine is configured but no API key is set: the call waits for it."""

    code, status = "ai_key_missing", 400


class AnalyzerFailed(CallscribeError):
    """The analyzer could not produce minutes (endpoint down, timed out, bad answers)."""

    code, status = "analysis_failed", 502


class AnalyzerUnreachable(AnalyzerFailed):
    """The AI endpoint could not be reached (down, timed out, 429/5xx on every try)."""


class AnalyzerKeyRefused(AnalyzerFailed):
    """The AI endpoint answered 401/403: the key is wrong, revoked or lacks access."""

    code = "ai_key_refused"


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


SPACE_RE = re.compile(r"\s+")


def truncate(text: str, limit: int) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:-") + "…"


def norm_label(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", label.lower()).strip()


def _label_similarity(a: str, b: str) -> float:
    na, nb = norm_label(a), norm_label(b)
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
        if norm_label(label) == norm_label(value):
            return label
    concept = norm_label(value)
    for name, spec in lexicon.OUTCOME_CUES.items():
        aliases = [name, *spec["aliases"]]
        if concept in {norm_label(a) for a in aliases}:
            mapped = concept_label(name, labels)
            if mapped:
                return mapped
    return max(labels, key=lambda lab: (_label_similarity(value, lab), -labels.index(lab)))


def concept_label(concept: str, labels: Sequence[str]) -> str | None:
    aliases = [concept, *lexicon.OUTCOME_CUES[concept]["aliases"]]
    best, best_score = None, 0.0
    for label in labels:
        score = max(_label_similarity(label, a) for a in aliases)
        if score > best_score:
            best, best_score = label, score
    return best if best_score >= 0.75 else None


def finalize_draft(draft: MinutesDraft, context: AnalysisContext) -> MinutesDraft:
    """Enforce what the store relies on, whichever engine produced the draft."""
    labels = list(context.outcome_labels)
    outcome = draft.outcome
    if labels and outcome not in labels:
        outcome = closest_label(outcome, labels)
    subject = truncate(SPACE_RE.sub(" ", draft.subject).strip(), SUBJECT_MAX) or "Call"
    summary = draft.summary.strip() or subject
    tags: list[str] = []
    for tag in draft.tags:
        tag = truncate(tag.strip(), LABEL_MAX)
        if tag and tag.lower() not in {t.lower() for t in tags}:
            tags.append(tag)
    items: list[ActionItemDraft] = []
    seen: set[tuple[str, str | None]] = set()
    for item in draft.action_items:
        title = truncate(item.title, TITLE_MAX)
        key = (title.lower(), (item.owner or "").lower() or None)
        if not title or key in seen:
            continue
        seen.add(key)
        owner = truncate(item.owner, LABEL_MAX) if item.owner else None
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


AnalyzerFactory = Callable[[AnalyzerConfig], Analyzer]


def _local(config: AnalyzerConfig) -> Analyzer:
    # imported when chosen: the implementations import this module, not the reverse
    from callscribe.minutes.analyzers.local import LocalAnalyzer

    return LocalAnalyzer()


def _openai(config: AnalyzerConfig) -> Analyzer:
    from callscribe.minutes.analyzers.openai import OpenAIAnalyzer

    return OpenAIAnalyzer(config)


ANALYZERS: dict[str, AnalyzerFactory] = {"local": _local, "openai": _openai}


def get_analyzer(config: AnalyzerConfig) -> Analyzer:
    factory = ANALYZERS.get((config.engine or "local").lower())
    if factory is None:
        raise CallscribeError(
            f"Unknown analyzer engine {config.engine!r}; choose one of: {', '.join(sorted(ANALYZERS))}",
            code="analyzer_unknown",
            status=400,
        )
    return factory(config)

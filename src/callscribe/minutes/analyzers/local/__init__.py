# ruff: noqa: E501  (regular expressions and prompt text read better unbroken)
"""The local analyzer (default): extractive and rule-based, no network, deterministic,
fast. TextRank over TF-IDF sentence vectors for the summary, a compact lexicon for
sentiment, cue phrases for the outcome and regular expressions for commitments; one
module per concern."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from callscribe.minutes.analyzers.base import MAX_TAGS, closest_label, finalize_draft
from callscribe.minutes.analyzers.local.action_items import _action_items
from callscribe.minutes.analyzers.local.keyphrases import _keyphrases
from callscribe.minutes.analyzers.local.notes import _notes
from callscribe.minutes.analyzers.local.outcome import _outcome
from callscribe.minutes.analyzers.local.sections import _overview, _sections
from callscribe.minutes.analyzers.local.sentiment import _overall_sentiment
from callscribe.minutes.analyzers.local.subject import _subject, _subject_from
from callscribe.minutes.analyzers.local.summary import _pick_summary, _summary_sentence, _textrank
from callscribe.minutes.analyzers.local.text import _sentences_of
from callscribe.minutes.schemas import (
    AnalysisContext,
    MinutesDraft,
    TurnIn,
)

log = logging.getLogger(__name__)


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

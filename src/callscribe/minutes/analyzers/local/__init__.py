"""The local analyzer (default): extractive and rule-based, no network, deterministic,
fast. TextRank over TF-IDF sentence vectors for the summary, a compact lexicon for
sentiment, cue phrases for the outcome and regular expressions for commitments; one
module per concern."""

from __future__ import annotations

from collections.abc import Sequence

from callscribe.minutes.analyzers.base import MAX_TAGS, closest_label, finalize_draft
from callscribe.minutes.analyzers.local.action_items import extract_action_items
from callscribe.minutes.analyzers.local.keyphrases import extract_keyphrases
from callscribe.minutes.analyzers.local.notes import extract_notes
from callscribe.minutes.analyzers.local.outcome import pick_outcome
from callscribe.minutes.analyzers.local.sections import build_sections, write_overview
from callscribe.minutes.analyzers.local.sentiment import overall_sentiment
from callscribe.minutes.analyzers.local.subject import pick_subject, subject_from
from callscribe.minutes.analyzers.local.summary import compose_summary, pick_summary, textrank
from callscribe.minutes.analyzers.local.text import sentences_of
from callscribe.minutes.schemas import (
    AnalysisContext,
    MinutesDraft,
    TurnIn,
)


class LocalAnalyzer:
    """Extractive, rule-based minutes: no network, deterministic, a few ms per call."""

    name = "local"

    def analyze(self, turns: Sequence[TurnIn], context: AnalysisContext) -> MinutesDraft:
        sentences = sentences_of(turns)
        labels = list(context.outcome_labels)
        if not sentences:
            return MinutesDraft(
                subject="Empty call",
                summary="Nothing was said in this call: the transcript is empty.",
                overview=write_overview(turns, context, []),
                sentiment="neutral",
                outcome=closest_label("unresolved", labels) if labels else "unresolved",
            )
        tags = extract_keyphrases(sentences, MAX_TAGS)
        request = next(
            (
                s
                for s in sentences
                if s.role == "customer" and len(s.content) >= 2 and subject_from(s.text)
            ),
            next((s for s in sentences if s.role == "customer" and len(s.content) >= 3), None),
        )
        rank = textrank(sentences)
        picked = pick_summary(sentences, rank, request)
        summary = compose_summary(picked, sentences, context, request)
        action_items = extract_action_items(sentences, context)
        outcome = pick_outcome(sentences, labels, action_items)
        draft = MinutesDraft(
            subject=pick_subject(sentences, tags),
            summary=summary,
            overview=write_overview(turns, context, sentences),
            sentiment=overall_sentiment(sentences),  # type: ignore[arg-type]
            outcome=outcome,
            sections=build_sections(sentences, rank, picked, request, action_items, context),
            action_items=action_items,
            notes=extract_notes(sentences, context),
            tags=tags,
        )
        return finalize_draft(draft, context)

"""Read-time masking: what every surface shows in place of a PII value (`[card]`,
`[phone]` …), and the one way back to the value (`reveal`), for the surfaces that let a
user with `pii.reveal` click a masked value.

Spans are computed once (the pipeline and ingest store them per turn as JSON, see
`spans_to_json`); a surface masks with the stored spans and detects again only when
there are none, or when they no longer fit the text (edited since).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from callscribe.privacy.detectors import KnownIdentity, PiiKind, Span, detect, detect_turns

LABELS: dict[PiiKind, str] = {kind: f"[{kind.value}]" for kind in PiiKind}


def label(kind: PiiKind | str) -> str:
    return LABELS[PiiKind(kind)]


def spans_to_json(spans: Sequence[Span]) -> list[list[object]]:
    return [s.as_json() for s in spans]


def spans_from_json(value: Any, text: str) -> list[Span] | None:
    """Stored spans that fit `text`, or None (none stored, or they do not fit)."""
    if not isinstance(value, list):
        return None
    spans: list[Span] = []
    try:
        for item in value:
            span = Span.from_json(item)
            if not 0 <= span.start < span.end <= len(text):
                return None
            spans.append(span)
    except (TypeError, ValueError):
        return None
    return sorted(spans)


def spans_for(text: str, stored: Any = None, known: KnownIdentity | None = None) -> list[Span]:
    found = spans_from_json(stored, text)
    return found if found is not None else detect(text, known)


def mask_text(
    text: str, spans: Sequence[Span] | None = None, known: KnownIdentity | None = None
) -> str:
    """`text` with every PII value replaced by its label. `spans` None: detect now."""
    if not text:
        return text
    if spans is None:
        spans = detect(text, known)
    out: list[str] = []
    pos = 0
    for span in sorted(spans):
        if span.start < pos:
            continue
        out.append(text[pos : span.start])
        out.append(LABELS[span.kind])
        pos = span.end
    out.append(text[pos:])
    return "".join(out)


def mask_texts(texts: Sequence[str], known: KnownIdentity | None = None) -> list[str]:
    """Turns of one engagement masked with each other's context (a CVV after the
    question that asked for it)."""
    return [mask_text(t, s) for t, s in zip(texts, detect_turns(texts, known), strict=True)]


@dataclass(frozen=True)
class Piece:
    """A page shows a masked text as pieces: plain text, or a masked value (kind and its
    index among the text's spans, which is what a reveal asks for)."""

    text: str
    kind: str | None = None
    index: int | None = None


def pieces(text: str, spans: Sequence[Span]) -> list[Piece]:
    out: list[Piece] = []
    pos = 0
    for index, span in enumerate(sorted(spans)):
        if span.start < pos:
            continue
        if span.start > pos:
            out.append(Piece(text[pos : span.start]))
        out.append(Piece(LABELS[span.kind], span.kind.value, index))
        pos = span.end
    if pos < len(text):
        out.append(Piece(text[pos:]))
    return out


def reveal(text: str, spans: Sequence[Span], index: int) -> tuple[PiiKind, str] | None:
    """The kind and original text of the `index`-th span, or None if there is none."""
    ordered = sorted(spans)
    if not 0 <= index < len(ordered):
        return None
    span = ordered[index]
    return span.kind, text[span.start : span.end]

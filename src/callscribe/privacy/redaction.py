"""Write-time PII redaction, for companies with `redact_pii` on (PCI): the stored text
is the masked text, so nothing recoverable stays in the database; and the time ranges
of the card data (number, CVV, expiry) in a turn, so the stored audio can be silenced
there (the caller decodes and writes the audio: privacy knows no storage or codec).

The detectors are `privacy.detectors`; the labels hold no digits or `@`, so redacting
a redacted text changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from callscribe.privacy.detectors import CARD_DATA_KINDS, KnownIdentity, Span, detect
from callscribe.privacy.masking import mask_text

# Turns carry segment times, not word times: a span's time is placed by its share of
# the turn's spoken length (a digit is said as a word, "four", so it weighs as much as
# the letters of one) and widened by this much on each side, clamped to the turn.
AUDIO_PAD_MS = 700
DIGIT_WEIGHT = 4


def redact_text(text: str, known: KnownIdentity | None = None, *, previous: str = "") -> str:
    return mask_text(text, detect(text, known, previous=previous, strict=True))


def audio_ranges_ms(
    text: str, start_ms: int, end_ms: int, spans: Sequence[Span]
) -> list[tuple[int, int]]:
    """Where in the recording the card data of one turn was said, (start, end) in ms."""
    ranges: list[tuple[int, int]] = []
    weights = [DIGIT_WEIGHT if ch.isdigit() else 1 for ch in text]
    at = [0]
    for w in weights:
        at.append(at[-1] + w)
    total = max(at[-1], 1)
    duration = max(end_ms - start_ms, 0)
    for span in spans:
        if span.kind not in CARD_DATA_KINDS:
            continue
        a = start_ms + duration * at[span.start] // total - AUDIO_PAD_MS
        b = start_ms + duration * at[span.end] // total + AUDIO_PAD_MS
        ranges.append((max(a, start_ms), min(b, end_ms)))
    return ranges


def silence(pcm: np.ndarray, sample_rate: int, ranges_ms: Sequence[tuple[int, int]]) -> int:
    """Zero every channel of `pcm` ((n,) or (n, channels)) in `ranges_ms`, in place;
    returns how many samples were silenced."""
    total = 0
    for a, b in ranges_ms:
        start = max(0, a * sample_rate // 1000)
        end = min(len(pcm), -(-b * sample_rate // 1000))
        if end > start:
            pcm[start:end] = 0
            total += end - start
    return total

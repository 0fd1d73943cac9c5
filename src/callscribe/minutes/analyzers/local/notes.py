# ruff: noqa: E501  (regular expressions and prompt text read better unbroken)
"""Notes: facts worth keeping (amounts, dates, reference numbers)."""

from __future__ import annotations

import re

from callscribe.minutes.analyzers.base import truncate
from callscribe.minutes.analyzers.local.dates import MONTH_RE, NUM
from callscribe.minutes.analyzers.local.text import Sentence, party_label
from callscribe.minutes.schemas import (
    AnalysisContext,
)

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
            + MONTH_RE
            + r"\.?\s+\d{1,2}(?:st|nd|rd|th)?(?:,?\s+\d{4})?|\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?"
            + MONTH_RE
            + r"|\d{4}-\d{2}-\d{2})\b",
            re.I,
        ),
    ),
    (
        "Deadline",
        re.compile(
            r"\b(?:within|in)\s+"
            + NUM
            + r"\s+(?:business days?|working days?|days?|hours?|weeks?)\b",
            re.I,
        ),
    ),
    # "3.30 pm" and "3:30 pm" whole: never starting inside a number ("30 pm")
    (
        "Time",
        re.compile(r"(?<![\d.:])\b\d{1,2}(?:[:.]\d{2})?\s?(?:am|pm|a\.m\.|p\.m\.)(?![a-z])", re.I),
    ),
    (
        "Reference",
        re.compile(
            r"\b(?:order|account|case|ticket|confirmation|reference|tracking|invoice)\s+(?:number|id|no\.?|#)?\s*:?\s*#?((?=[A-Z0-9-]*\d)[A-Z0-9-]{5,})\b",
            re.I,
        ),
    ),
]


def extract_notes(sentences: list[Sentence], context: AnalysisContext) -> list[str]:
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
                who = party_label(s.role, s.speaker, context)
                snippet = truncate(s.text, 140)
                notes.append(
                    f'{kind} mentioned by {who[0].lower() + who[1:] if who.startswith("The ") else who}: {value} — "{snippet}"'
                )
                if len(notes) >= 10:
                    return notes
    return notes

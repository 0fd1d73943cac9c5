"""Write-time PII redaction: what a company with `redact_pii` on never stores.

Patterns run in order, card numbers first, so a card's digits are not taken for a phone
number. A match is replaced by its label (`[card]`, `[ssn]`, `[email]`, `[phone]`); the
labels hold no digits or `@`, so redacting a redacted text changes nothing.
"""

from __future__ import annotations

import re

PII_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # 13 to 19 digits, optionally grouped by single spaces or dashes (no Luhn check: a
    # misheard or mistyped card number is still one the customer said aloud). The
    # separator sits between digits so the space after the number is kept.
    (re.compile(r"\b\d(?:[ -]?\d){12,18}\b"), "[card]"),
    (re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), "[ssn]"),
    (re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"), "[email]"),
    (re.compile(r"(?<!\w)\+?\d[\d ().-]{7,}\d\b"), "[phone]"),
)


def redact_text(text: str) -> str:
    for pattern, label in PII_PATTERNS:
        text = pattern.sub(label, text)
    return text

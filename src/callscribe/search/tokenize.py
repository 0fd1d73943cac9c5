"""The one word tokenisation of search, the same as SQLite FTS5's `unicode61` tokenizer
(its defaults: token characters are the Unicode categories L*, N* and Co, everything else
separates; case folded; diacritics removed), so the PostgreSQL index counts the same
terms and lengths as FTS5 does and both rank keyword matches in the same order."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache


@lru_cache(maxsize=4096)
def _fold(ch: str) -> str:
    """Lower case without diacritics ("É" -> "e"), as unicode61 remove_diacritics=1, which
    folds Latin letters only (Greek "ά" and Cyrillic "й" keep theirs)."""
    code = ord(ch)
    if not (code < 0x0250 or 0x1E00 <= code <= 0x1EFF):
        return ch.lower()
    base = unicodedata.normalize("NFD", ch.lower())
    kept = "".join(c for c in base if not unicodedata.category(c).startswith("M"))
    return kept or ch.lower()


@lru_cache(maxsize=4096)
def _is_token_char(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat[0] in "LN" or cat == "Co"


_ASCII_SPLIT = re.compile(r"[0-9A-Za-z]+")


def token_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, term) for every token of `text`, in order."""
    if text.isascii():
        return [(m.start(), m.end(), m.group().lower()) for m in _ASCII_SPLIT.finditer(text)]
    spans: list[tuple[int, int, str]] = []
    start = -1
    for i, ch in enumerate(text):
        if _is_token_char(ch):
            if start < 0:
                start = i
        elif start >= 0:
            spans.append((start, i, "".join(_fold(c) for c in text[start:i])))
            start = -1
    if start >= 0:
        spans.append((start, len(text), "".join(_fold(c) for c in text[start:])))
    return spans


def tokenize(text: str) -> list[str]:
    return [term for _s, _e, term in token_spans(text)]


# Words a query drops before the keyword arm (documents keep them, so their lengths are
# FTS5's): in almost every turn, they rank nothing and make an any-of-the-words query
# touch most of the index (bench/bench_search_scale.py). A query of nothing else keeps
# them. English only, as the bundled embedder is.
STOPWORDS = frozenset(
    [
        "a",
        "about",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "us",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
    ]
)


def query_terms(q: str) -> list[str]:
    """The distinct terms of a query the keyword arm looks for, in order."""
    terms = list(dict.fromkeys(tokenize(q)))
    kept = [t for t in terms if t not in STOPWORDS]
    return kept or terms

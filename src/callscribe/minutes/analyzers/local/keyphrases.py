"""Keyphrases (the tags) of a conversation."""

from __future__ import annotations

from callscribe.minutes.analyzers import lexicon
from callscribe.minutes.analyzers.local.text import Sentence, stem_of, words_of


def extract_keyphrases(sentences: list[Sentence], limit: int) -> list[str]:
    """Frequent content unigrams and bigrams (adjacent content words), best first."""
    uni: dict[str, float] = {}
    bi: dict[str, float] = {}
    first_seen: dict[str, int] = {}
    surface: dict[str, str] = {}
    for s in sentences:
        weight = 1.5 if s.role == "customer" else 1.0
        toks = words_of(s.text)
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
                    bkey = f"{prev} {stem_of(tok)}"
                    bi[bkey] = bi.get(bkey, 0.0) + weight
                    surface.setdefault(bkey, f"{surface[prev]} {tok}")
                    first_seen.setdefault(bkey, s.index)
                prev = None
                continue
            key = stem_of(tok)
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

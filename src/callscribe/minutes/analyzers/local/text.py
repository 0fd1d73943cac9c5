"""Text handling for the local analyzer: cleaning, words, stems, sentences."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from callscribe.kit.timefmt import format_offset_ms
from callscribe.minutes.analyzers import lexicon
from callscribe.minutes.analyzers.base import SPACE_RE
from callscribe.minutes.schemas import (
    AnalysisContext,
    TurnIn,
)

_NOISE_RE = re.compile(r"\{[a-z_]+\}|<[^>]{1,30}>|\[(?:noise|laughter|inaudible|crosstalk)\]", re.I)


_SPACE_PUNCT_RE = re.compile(r"\s+([,.!?;:])")


# not after a title ("Mr. Green" is one name)
_SENT_SPLIT_RE = re.compile(
    r"(?<=[.!?])(?<!\bMr\.)(?<!\bMrs\.)(?<!\bMs\.)(?<!\bDr\.)(?<!\bSt\.)(?<!\bProf\.)"
    r"\s+(?=[\"'(\[]?[A-Za-z0-9$£€])"
)


WORD_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


FILLER_START_RE = re.compile(
    r"^(?:(?:uh|um|uhm|erm|er|hmm|mm|oh|ah|so|well|okay|ok|alright|all right|yeah|yes|yep|"
    r"no|right|sure|hi|hello|hey|great|perfect|thanks|thank you|and|but|excuse me|"
    r"good (?:morning|afternoon|evening))"
    r"\b[\s,.!]*)+",
    re.I,
)


def _clean(text: str) -> str:
    text = _NOISE_RE.sub(" ", text or "")
    text = SPACE_RE.sub(" ", text).strip()
    text = _SPACE_PUNCT_RE.sub(r"\1", text)
    text = re.sub(r"\b(\w+)(?: \1\b)+", r"\1", text, flags=re.I)  # "I I I think"
    return text


def words_of(text: str) -> list[str]:
    return WORD_RE.findall(text.lower().replace("’", "'"))


def content_words(text: str) -> list[str]:
    return [
        w for w in words_of(text) if w not in lexicon.STOPWORDS and len(w) > 2 and not w.isdigit()
    ]


def stem_of(word: str) -> str:
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


def capitalize(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def format_ms(ms: int) -> str:
    return format_offset_ms(ms)  # the one clock format (kit.timefmt), as pages and exports


@dataclass
class Sentence:
    index: int
    turn: int
    role: str
    speaker: str | None
    text: str
    words: list[str]
    content: list[str]
    position: float = 0.0  # 0 at the start of the call, 1 at the end


_DIARIZATION_LABEL_RE = re.compile(r"^(?:speaker|spk|s|channel|ch)[ _-]?\d+$", re.I)


def party_label(
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


def other_role(role: str) -> str | None:
    return {"agent": "customer", "customer": "agent"}.get(role)


IN_CALL_OBJECTS = re.compile(
    r"\b(?:your name|your full name|your username|your email address|your account number|"
    r"your order id|your order number|your phone number|your zip|your address|the spelling|"
    r"hold|a moment|a second|a minute|me know)\b",
    re.I,
)


def sentences_of(turns: Sequence[TurnIn]) -> list[Sentence]:
    sentences: list[Sentence] = []
    for t_index, turn in enumerate(turns):
        text = _clean(turn.text)
        if not text:
            continue
        for piece in _split_sentences(text):
            words = words_of(piece)
            if not words:
                continue
            sentences.append(
                Sentence(
                    index=len(sentences),
                    turn=t_index,
                    role=turn.role,
                    speaker=turn.speaker,
                    text=piece,
                    words=words,
                    content=content_words(piece),
                )
            )
    n = len(sentences)
    for s in sentences:
        s.position = s.index / (n - 1) if n > 1 else 1.0
    return sentences

# ruff: noqa: E501  (regular expressions and prompt text read better unbroken)
"""The subject line: the customer's main request."""

from __future__ import annotations

import re

from callscribe.minutes.analyzers import lexicon
from callscribe.minutes.analyzers.base import SPACE_RE, SUBJECT_MAX, truncate
from callscribe.minutes.analyzers.local.action_items import CLAUSE_END_RE
from callscribe.minutes.analyzers.local.text import (
    FILLER_START_RE,
    Sentence,
    capitalize,
    content_words,
)

_REQUEST_PATTERNS = [
    re.compile(
        r"\b(?:i|we)(?:'m| am| are|'re)? (?:calling|writing|contacting you|reaching out) (?:to|about|regarding|because|for)\s+(?P<x>.+)",
        re.I,
    ),
    re.compile(
        r"\b(?:i |we )?(?:really |just |only )?(?:need|needed|want|wanted|would like|'d like|wanna|wish|hope|was hoping|am hoping) (?:you |someone |somebody )?to\s+(?P<x>.+)",
        re.I,
    ),
    re.compile(
        r"\b(?:i|we) (?:have |had |just )?(?P<x>(?:lost|forgot|misplaced|can't find|cannot find|can't access|cannot access|can't log in|was charged|got charged|was double charged|never received|didn't receive|haven't received)\b.+)",
        re.I,
    ),
    re.compile(r"\b(?:i|we)(?:'d| would) like\s+(?P<x>.+)", re.I),
    re.compile(
        r"\b(?:i|we)(?:'m| am| are|'re) (?:trying|looking|hoping|wanting|interested) (?:to|for|in)\s+(?P<x>.+)",
        re.I,
    ),
    re.compile(r"\b(?:i|we) (?:need|want)\s+(?P<x>.+)", re.I),
    re.compile(
        r"\b(?:a |an |some )?(?:problem|issue|trouble|question|complaint|concern)s? (?:with|about|regarding|on)\s+(?P<x>.+)",
        re.I,
    ),
    re.compile(r"\bhow (?:do|can|could) i\s+(?P<x>.+)", re.I),
    re.compile(
        r"\b(?:can|could) (?:you|i) (?:please )?(?:help me )?(?P<x>(?:get|change|cancel|update|return|check|reset|replace|order|book|find|open|close|transfer|add|remove|pay|make)\b.+)",
        re.I,
    ),
    re.compile(
        r"\b(?:my|the|our) (?P<x>[\w' -]{3,40}?) (?:isn't working|is not working|wasn't working|keeps|won't|doesn't work|does not work|stopped|is broken|was stolen|was declined|got declined|is missing|never arrived|hasn't arrived)\b(?P<y>.*)",
        re.I,
    ),
]


def subject_from(sentence: str) -> str | None:
    text = FILLER_START_RE.sub("", sentence.replace("’", "'")).strip()
    for i, pattern in enumerate(_REQUEST_PATTERNS):
        m = pattern.search(text)
        if not m:
            continue
        x = m.group("x")
        if i == len(_REQUEST_PATTERNS) - 1:
            x = m.group(0)
        end = CLAUSE_END_RE.search(x)
        x = x[: end.start()] if end else x
        x = re.split(
            r",\s|\s(?:and i|and we|can you|could you|please)\b", x, maxsplit=1, flags=re.I
        )[0]
        x = re.sub(r"^(?:a|an|the|some|my|our)\s+", "", x.strip(" ,.?!"), flags=re.I)
        x = re.sub(r"\b(?:my|our)\b", "", x, flags=re.I)
        x = re.sub(r"\b(?:me|us)\s+(?=with\b)", "", x, flags=re.I)
        x = re.sub(r"\bi\b", "they", x)
        x = SPACE_RE.sub(" ", x).strip(" ,.?!")
        if (
            len(content_words(x)) >= 1
            and len(x) >= 6
            and not re.fullmatch(
                r"(?:help|talk|speak|ask)(?: \w+)?(?: with)?(?: (?:that|this|it|something))?",
                x,
                re.I,
            )
        ):
            return truncate(capitalize(x), SUBJECT_MAX)
    return None


def pick_subject(sentences: list[Sentence], tags: list[str]) -> str:
    subject = _pick_subject(sentences, tags)
    topic = topical(subject)
    if topic is None and tags:
        topic = truncate(capitalize(", ".join(tags[:3])), SUBJECT_MAX)
    return restore_case(topic or subject, sentences)


# how a request is put, not what it is about ("Can you give me" a fragile label)
_ASKING_RE = re.compile(
    r"^(?:(?:can|could|would|will|may|might) (?:you|i|we) (?:please )?"
    r"(?:(?:give|get|send|show|bring|tell|find|book|make|take|have|order|see|speak to|talk to|ask)\s+)?(?:me |us )?|"
    r"(?:do|does|did|are|is|have|has) (?:you|i|we) (?:have |know |got )?|"
    r"(?:i|we)(?:'ve| have)? (?:just )?(?:heard|think|thought|want|need|have|got) (?:that |an? |some )?|"
    r"(?:sorry|excuse me|please)[, ]+)",
    re.I,
)
_PERSON_RE = re.compile(
    r"\b(?:i|i'm|i've|me|my|mine|you|you're|your|yours|we|we're|us|our)\b", re.I
)


def topical(subject: str) -> str | None:
    """The subject as a topic: the asking stripped ("Can you give me a fragile label" ->
    "Fragile label"); None when what is left still talks in the first or second person,
    is a whole clause (over 8 words) or was cut short, so the caller names the tags."""
    x = subject.strip(" .?!…")
    for _ in range(2):
        x = _ASKING_RE.sub("", x).strip()
    x = re.sub(r"^(?:a|an|the|some|this|that)\s+", "", x, flags=re.I)
    x = re.sub(r"\b(?:my|your|our)\s+", "", x, flags=re.I)
    if (
        not x
        or subject.endswith("…")
        or _PERSON_RE.search(x)
        or len(x.split()) > 8
        or not content_words(x)
    ):
        return None
    return truncate(capitalize(x), SUBJECT_MAX)


_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'-]*")


def restore_case(subject: str, sentences: list[Sentence]) -> str:
    """Words the transcript capitalises inside a sentence (names, places: "New Jersey")
    keep that case in the subject, which may come from lowercased tags ("New jersey")."""
    proper: dict[str, str] = {}
    for s in sentences:
        for i, m in enumerate(_WORD_RE.finditer(s.text)):
            word = m.group(0)
            if i > 0 and word[:1].isupper() and word.lower() != "i":
                proper.setdefault(word.lower(), word)
    if not proper:
        return subject
    return _WORD_RE.sub(lambda m: proper.get(m.group(0).lower(), m.group(0)), subject)


def _pick_subject(sentences: list[Sentence], tags: list[str]) -> str:
    customer = [s for s in sentences if s.role == "customer"]
    if not customer and tags:  # a meeting or a monologue: name its topics
        return truncate(capitalize(", ".join(tags[:3])), SUBJECT_MAX)
    customer = customer or sentences
    for s in customer[:12]:
        subject = subject_from(s.text)
        if subject:
            return subject
    for s in customer[:6]:
        if len(s.content) >= 3 and (
            "?" in s.text
            or any(w in lexicon.SENTIMENT and lexicon.SENTIMENT[w] < 0 for w in s.words)
        ):
            return truncate(capitalize(FILLER_START_RE.sub("", s.text).strip(" ?.!")), SUBJECT_MAX)
    if tags:
        return truncate(capitalize(", ".join(tags[:3])), SUBJECT_MAX)
    return truncate(capitalize(sentences[0].text.strip(" ?.!")), SUBJECT_MAX)

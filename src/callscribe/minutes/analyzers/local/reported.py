# ruff: noqa: E501  (regular expressions read better unbroken)
"""Reported speech: a sentence someone said, rewritten in the third person with the
speaker named ("Can you book me on tomorrow's flight?" by the customer -> "The customer
asks the agent to book them on tomorrow's flight."). Rule-based, no model: questions
become "asks (whether|to|about) ...", requests and imperatives "asks ... to ...",
first-person statements take the speaker as subject, the rest "says ...". Never quotes."""

from __future__ import annotations

import re
from collections.abc import Iterable
from contextvars import ContextVar

from callscribe.minutes.analyzers import lexicon
from callscribe.minutes.analyzers.base import SPACE_RE
from callscribe.minutes.analyzers.local.text import FILLER_START_RE, capitalize

# politeness and discourse markers that carry no content in a summary
_LEAD_RE = re.compile(
    r"^(?:(?:excuse me|sorry|pardon|well|sir|madam|ma'am|miss|mister|dear|now|so|then|and|but|oh|ah|look|listen|"
    r"you know|you see|i see|i mean|actually|anyway|by the way|in that case|let me see|let me think)\b[\s,.!]*)+",
    re.I,
)
_TAIL_RE = re.compile(
    r",?\s*\b(?:please|then|sir|madam|ma'am|miss|mister|dear|honey|darling|then|too|right|ok|okay|"
    r"isn't it|aren't you|don't you|won't you|do you|is it|right)\s*(?=[.!?]*$)",
    re.I,
)
_QUESTION_START_RE = re.compile(
    r"^(?:do|does|did|are|is|was|were|have|has|had|can|could|would|will|shall|should|may|might|"
    r"what|what's|when|where|which|who|whom|whose|why|how|is there|are there)\b",
    re.I,
)


def _verb_s(verb: str) -> str:
    low = verb.lower()
    if low in ("have",):
        return "has"
    if low in ("be",):
        return "is"
    if low.endswith(("sh", "ch", "ss", "x", "o")):
        return verb + "es"
    if len(low) > 2 and low.endswith("y") and low[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def shift_pronouns(text: str, listener: str) -> str:
    """First person -> they/their (the speaker), second person -> the listener."""
    for phrase, repl in (
        (r"i'm", "they are"),
        (r"i am", "they are"),
        (r"i've", "they have"),
        (r"i'll", "they will"),
        (r"i'd", "they would"),
        (r"i was", "they were"),
    ):
        text = re.sub(rf"\b{phrase}\b", repl, text, flags=re.I)
    for phrase, verb in (
        ("you're", "is"),
        ("you are", "is"),
        ("are you", "is"),
        ("you were", "was"),
        ("you've", "has"),
        ("you have", "has"),
        ("you'll", "will"),
        ("you'd", "would"),
    ):
        text = re.sub(rf"\b{phrase}\b", f"{listener} {verb}", text, flags=re.I)
    text = re.sub(r"\bmyself\b", "themselves", text, flags=re.I)
    text = re.sub(r"\bmine\b", "theirs", text, flags=re.I)
    text = re.sub(r"\bmy\b", "their", text, flags=re.I)
    text = re.sub(r"\bme\b", "them", text, flags=re.I)
    text = re.sub(r"\bi\b", "they", text, flags=re.I)
    text = re.sub(r"\byourself\b", listener, text, flags=re.I)
    text = re.sub(r"\byours\b", f"{listener}'s", text, flags=re.I)
    text = re.sub(r"\byour\b", f"{listener}'s", text, flags=re.I)
    return re.sub(r"\byou\b", listener, text, flags=re.I)


def _lower_first(text: str) -> str:
    """Lowercase a sentence's first word unless it is a name ("Green has ..."), "I" or an
    acronym: names are the words the call capitalises inside a sentence (`_PROPER`)."""
    first = re.match(r"[A-Za-z']+", text)
    if not first or first.group(0) == "I" or first.group(0)[1:2].isupper():
        return text
    word = first.group(0).lower()
    if word not in lexicon.STOPWORDS and word in _PROPER.get():
        return text
    return text[:1].lower() + text[1:]


_PROPER: ContextVar[frozenset[str]] = ContextVar("proper_names", default=frozenset())


def proper_names(sentences: Iterable[str]) -> frozenset[str]:
    """Words written with a capital inside a sentence (names, places), lowercased."""
    names = set()
    for text in sentences:
        for i, m in enumerate(re.finditer(r"[A-Za-z][A-Za-z'-]*", text)):
            if i > 0 and m.group(0)[:1].isupper() and m.group(0) != "I":
                names.add(m.group(0).lower())
    return frozenset(names)


def _strip(body: str) -> str:
    body = FILLER_START_RE.sub("", body).strip()
    body = _LEAD_RE.sub("", body).strip()
    body = _TAIL_RE.sub("", body).strip()
    body = body.replace('"', "").replace("“", "").replace("”", "")
    return body.strip(" ,;:-")


# (pattern over the stripped question, template); {L} speaker, {O} listener, {x} rest
_QUESTIONS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"^would you (?:like|care) to (?P<x>.+)", re.I),
        "{L} asks whether {O} wants to {x}",
    ),
    (re.compile(r"^would you like (?P<x>.+)", re.I), "{L} asks whether {O} wants {x}"),
    (
        re.compile(
            r"^(?:can|could|would|will) you (?:please |kindly )?(?:help (?:me|us) )?(?:to )?(?P<x>.+)",
            re.I,
        ),
        "{L} asks {O} to {x}",
    ),
    (
        re.compile(r"^(?:can|could|may|might) (?:i|we) (?:please )?have (?P<x>.+)", re.I),
        "{L} asks for {x}",
    ),
    (
        re.compile(r"^(?:can|could|may|might|shall) (?:i|we) (?:please )?(?P<x>.+)", re.I),
        "{L} asks to {x}",
    ),
    (re.compile(r"^do you (?:have|sell|offer) (?P<x>.+)", re.I), "{L} asks if {O} has {x}"),
    (re.compile(r"^do you (?:know|think) (?P<x>.+)", re.I), "{L} asks if {O} thinks {x}"),
    (
        re.compile(r"^(?:do|did) you (?P<v>\w+) (?P<x>.+)", re.I),
        "{L} asks whether {O} {v_past_or_s} {x}",
    ),
    (re.compile(r"^(?:is|are) there (?P<x>.+)", re.I), "{L} asks whether there {be} {x}"),
    (
        re.compile(r"^(?:is|was) (?P<s>it|that|this|he|she) (?P<x>.+)", re.I),
        "{L} asks whether {s} {be} {x}",
    ),
    (re.compile(r"^how about (?P<x>.+)", re.I), "{L} suggests {x}"),
    (re.compile(r"^what about (?P<x>.+)", re.I), "{L} asks about {x}"),
    (re.compile(r"^why don't (?:we|you) (?P<x>.+)", re.I), "{L} suggests {x}"),
    (
        re.compile(
            r"^(?P<w>what|when|where|which|why|how(?: much| many| long| often| far)?|what time) (?:do|does|did) (?P<s>[\w']+(?: \w+)?) (?P<x>.+)",
            re.I,
        ),
        "{L} asks {w} {s} {x}",
    ),
    (
        re.compile(
            r"^(?P<w>what|when|where|which|who|why|how(?: much| many| long| often| far)?) (?P<x>.+)",
            re.I,
        ),
        "{L} asks {w} {x}",
    ),
]


def _question(body: str, label: str, listener: str) -> str | None:
    for pattern, template in _QUESTIONS:
        m = pattern.match(body)
        if not m:
            continue
        groups = {k: v for k, v in m.groupdict().items() if v is not None}
        x = shift_pronouns(groups.get("x", ""), listener)
        out = template.replace("{L}", label).replace("{O}", listener).replace("{x}", x)
        if "v" in groups:
            verb = groups["v"]
            form = verb if body.lower().startswith("did") else _verb_s(verb)
            if body.lower().startswith("did"):
                out = out.replace("whether", "whether", 1)
                form = "did " + verb
            out = out.replace("{v_past_or_s}", form)
        if "s" in groups:
            out = out.replace("{s}", shift_pronouns(groups["s"], listener))
        if "w" in groups:
            out = out.replace("{w}", groups["w"].lower())
        if "{be}" in out:
            plural = body.lower().startswith(("are", "were"))
            past = body.lower().startswith(("was", "were"))
            out = out.replace(
                "{be}", ("were" if plural else "was") if past else ("are" if plural else "is")
            )
        return out
    return None


_STATEMENTS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^(?P<x>(?:just |only )?(?:wanted|needed|called|came)\b.+)", re.I), "{L} {x}"),
    (re.compile(r"^let's (?P<x>.+)", re.I), "{L} suggests they {x}"),
    (re.compile(r"^let me (?P<x>.+)", re.I), "{L} offers to {x}"),
    (
        re.compile(
            r"^(?:i'm|i am) (?:so |very |terribly |really )?sorry(?: to hear that)?,? (?:but )?(?P<x>.+)",
            re.I,
        ),
        "{L} apologizes: {x}",
    ),
    (
        re.compile(r"^(?:i'm|i am) (?:so |very |terribly |really )?sorry\b.*", re.I),
        "{L} apologizes",
    ),
    (re.compile(r"^(?:i'm|i am) afraid (?:that )?(?P<x>.+)", re.I), "{L} says {x}"),
    (re.compile(r"^(?:i|we)(?: would|'d) (?:really )?like (?P<x>.+)", re.I), "{L} wants {x}"),
    (re.compile(r"^(?:i|we)(?: would|'d) rather (?P<x>.+)", re.I), "{L} prefers to {x}"),
    (
        re.compile(
            r"^we (?P<v>offer|have|provide|sell|serve|accept|recommend|charge|need|want|close|open)\b (?P<x>.+)",
            re.I,
        ),
        "{L} {v_s} {x}",
    ),
    (re.compile(r"^(?:i|we)(?:'ll| will) (?P<x>.+)", re.I), "{L} will {x}"),
    (re.compile(r"^(?:i|we)(?:'m| am|'re| are) (?P<x>.+)", re.I), "{L} is {x}"),
    (
        re.compile(
            r"^(?:i|we)(?:'ve| have) (?P<x>(?:\w+ed|been|got|had|made|done|sent|seen|lost|found|bought|paid|taken|given|left|heard|told|read)\b.*)",
            re.I,
        ),
        "{L} has {x}",
    ),
    (re.compile(r"^(?:i|we) (?:have|'ve got) (?P<x>.+)", re.I), "{L} has {x}"),
    (re.compile(r"^(?:i|we) (?:don't|do not) (?P<x>.+)", re.I), "{L} doesn't {x}"),
    (re.compile(r"^(?:i|we) (?:can't|cannot) (?P<x>.+)", re.I), "{L} can't {x}"),
    (
        re.compile(
            r"^(?:i|we) (?P<v>need|want|think|see|know|hope|guess|feel|agree|live|work|like|love|hate|prefer|suggest|recommend|mean|believe|understand|wonder|plan|expect)\b ?(?P<x>.*)",
            re.I,
        ),
        "{L} {v_s} {x}",
    ),
    (
        re.compile(
            r"^(?:i|we) (?P<x>(?:can|could|would|should|must|might|may|was|were|did|didn't|just|also|already|never|lost|had|got|made|sent|saw|forgot|bought|paid|left|found|spoke|went|took|gave|told|heard|\w+ed)\b.*)",
            re.I,
        ),
        "{L} {x}",
    ),
    (
        re.compile(
            r"^(?:please )?(?P<v>give|tell|send|show|call|bring|take|help|wait|check|put|leave|come|sign|fill|pay|keep|follow|go|make|get|book|cancel|change|remember|try|attach|listen|look|sit|turn|enter|press|hold|use|write|read|ask|contact|visit|return|open|close|stay|note|choose|pick|hurry|don't)\b (?P<x>.+)",
            re.I,
        ),
        "{L} asks {O} to {v} {x}",
    ),
    (
        re.compile(r"^you (?:should|must|need to|have to|'d better|had better) (?P<x>.+)", re.I),
        "{L} tells {O} to {x}",
    ),
    (re.compile(r"^you can (?P<x>.+)", re.I), "{L} tells {O} they can {x}"),
]


def _statement(body: str, label: str, listener: str, addressed: bool) -> str:
    for pattern, template in _STATEMENTS:
        m = pattern.match(body)
        if not m:
            continue
        groups = {k: v for k, v in m.groupdict().items() if v is not None}
        x = shift_pronouns(groups.get("x", ""), listener)
        out = template.replace("{L}", label).replace("{O}", listener).replace("{x}", x)
        if "v" in groups:
            verb = groups["v"]
            out = out.replace("{v_s}", _verb_s(verb.lower())).replace("{v}", verb.lower())
            out = out.replace("asks " + listener + " to don't", "asks " + listener + " not to")
        return out
    verb = GENERIC_VERB.replace("{O}", listener) if addressed else "says"
    return f"{label} {verb} {shift_pronouns(_lower_first(body), listener)}"


GENERIC_VERB = "tells {O}"


def reported(
    text: str,
    label: str,
    listener: str,
    *,
    addressed: bool = True,
    names: frozenset[str] = frozenset(),
) -> str | None:
    """One sentence as reported speech, or None when nothing of substance is left.
    `addressed`: the listener is a known party (else a plain statement is "says");
    `names`: the call's proper names (`proper_names`), kept capitalised."""
    token = _PROPER.set(names)
    try:
        return _reported(text, label, listener, addressed)
    finally:
        _PROPER.reset(token)


def _reported(text: str, label: str, listener: str, addressed: bool) -> str | None:
    body = _strip(text.replace("’", "'"))
    polite = re.match(r"^please,? (?P<x>.+)", body, re.I)
    if polite and not body.endswith("?"):
        x = shift_pronouns(polite.group("x").rstrip(" .!"), listener)
        return capitalize(f"{label} asks {listener} to {_lower_first(x)}.")
    body = re.sub(r"^(what|who|where|how|that|it|there)'s\b", r"\1 is", body, flags=re.I)
    if len(re.findall(r"[A-Za-z0-9]+", body)) < 3:
        return None
    is_question = body.endswith("?") or (
        _QUESTION_START_RE.match(body) is not None and not body.endswith(".")
    )
    core = body.rstrip(" ?!.")
    if is_question and _QUESTION_START_RE.match(core) is None:
        is_question = False  # "I need to return an item, can you help?": the statement leads
        core = re.split(r",\s*(?:can|could|would|will) you\b", core, maxsplit=1, flags=re.I)[0]
    out = _question(core, label, listener) if is_question else None
    if out is None and is_question:
        out = f"{label} asks about {shift_pronouns(_lower_first(core), listener)}"
    if out is None:
        out = _statement(core, label, listener, addressed)
    out = SPACE_RE.sub(" ", out).strip(" ,;:")
    out = re.sub(r"\bthey is\b", "they are", out)
    out = re.sub(r"\bthey has\b", "they have", out)
    out = re.sub(r"\bthey was\b", "they were", out)
    out = re.sub(r"\bthey doesn't\b", "they don't", out)
    return out[:1].upper() + out[1:] + "."

# ruff: noqa: E501  (regular expressions and prompt text read better unbroken)
"""Action items: commitments and requests, their owner and due date."""

from __future__ import annotations

import re
from typing import Literal

from callscribe.minutes.analyzers import lexicon
from callscribe.minutes.analyzers.base import SPACE_RE, TITLE_MAX, truncate
from callscribe.minutes.analyzers.local.dates import DUE_RE, resolve_due
from callscribe.minutes.analyzers.local.text import (
    IN_CALL_OBJECTS,
    Sentence,
    capitalize,
    content_words,
    other_role,
    party_label,
    stem_of,
    words_of,
)
from callscribe.minutes.schemas import (
    ActionItemDraft,
    AnalysisContext,
)

_ACTION_VERBS = frozenset(
    [
        "send",
        "email",
        "e-mail",
        "mail",
        "text",
        "call",
        "ring",
        "phone",
        "follow",
        "get",
        "reach",
        "check",
        "look",
        "process",
        "refund",
        "credit",
        "issue",
        "ship",
        "deliver",
        "schedule",
        "arrange",
        "book",
        "set",
        "setup",
        "cancel",
        "update",
        "forward",
        "reset",
        "review",
        "prepare",
        "share",
        "submit",
        "file",
        "order",
        "replace",
        "fix",
        "escalate",
        "investigate",
        "confirm",
        "contact",
        "notify",
        "transfer",
        "write",
        "draft",
        "organize",
        "organise",
        "create",
        "make",
        "put",
        "pay",
        "return",
        "resend",
        "reissue",
        "expedite",
        "waive",
        "reverse",
        "apply",
        "add",
        "remove",
        "change",
        "upgrade",
        "downgrade",
        "activate",
        "deactivate",
        "open",
        "close",
        "provide",
        "research",
        "find",
        "try",
        "test",
        "install",
        "finish",
        "complete",
        "handle",
        "sort",
        "talk",
        "speak",
        "discuss",
        "present",
        "design",
        "bring",
        "visit",
        "sign",
        "draw",
        "report",
        "mention",
        "come",
        "meet",
        "give",
        "let",
    ]
)


_STRONG_VERBS = frozenset(
    [
        "send",
        "email",
        "e-mail",
        "mail",
        "text",
        "call",
        "ring",
        "phone",
        "follow",
        "get",
        "reach",
        "ship",
        "schedule",
        "arrange",
        "book",
        "forward",
        "resend",
        "reissue",
        "escalate",
        "notify",
        "contact",
        "refund",
        "expedite",
        "prepare",
        "share",
        "submit",
    ]
)


_COMMIT_RE = re.compile(
    r"\b(?P<trig>i(?:'ll| will| shall)|we(?:'ll| will| shall)|i(?:'m| am) going to|we(?:'re| are) going to|"
    r"i(?:'m| am) gonna|we(?:'re| are) gonna|let me|let us|let's|i can|we can|i'll make sure to|i need to|"
    r"i have to|we need to|we have to)\s+"
    r"(?P<body>.+)",
    re.I,
)


_REQUEST_RE = re.compile(
    r"\b(?P<trig>please|can you|could you|would you|will you|can you please|could you please|"
    r"make sure (?:to|you)|don't forget to|remember to|you need to|you should|you'll need to|you will need to)\s+"
    r"(?P<body>.+)",
    re.I,
)


_ADVERB_START_RE = re.compile(
    r"^(?:(?:also|just|definitely|certainly|personally|then|now|quickly|go ahead and|be sure to|"
    r"make sure to|try to|try and|please|actually|first|immediately|right away|gladly|be able to)\s+)+",
    re.I,
)


CLAUSE_END_RE = re.compile(
    r"(?:[.!?;]|\s+(?:but|because|since|although|so that|if|okay|ok)\b|,\s*(?:and |so |okay|alright|if ))",
    re.I,
)


def _owner(role: str, speaker: str | None, context: AnalysisContext) -> str:
    return party_label(role, speaker, context, owner=True)


def _rewrite_title(
    body: str, speaker_role: str, owner_role: str | None, context: AnalysisContext
) -> str:
    speaker_ref = (
        "the agent"
        if speaker_role == "agent"
        else "the customer"
        if speaker_role == "customer"
        else None
    )
    listener_role = other_role(speaker_role)
    listener_ref = (
        (context.customer_name or "the customer")
        if listener_role == "customer"
        else (context.agent_name or "the agent")
        if listener_role == "agent"
        else None
    )
    if speaker_role == "agent" and context.agent_name:
        speaker_ref = context.agent_name
    if speaker_role == "customer" and context.customer_name:
        speaker_ref = context.customer_name
    if listener_ref:
        for contraction, verb in (
            ("you'd", "would"),
            ("you're", "is"),
            ("you've", "has"),
            ("you'll", "will"),
        ):
            body = re.sub(rf"\b{contraction}\b", f"{listener_ref} {verb}", body, flags=re.I)
        body = re.sub(r"\byourself\b", listener_ref, body, flags=re.I)
        body = re.sub(r"\byour\b", f"{listener_ref}'s", body, flags=re.I)
        body = re.sub(r"\byou\b", listener_ref, body, flags=re.I)
    if speaker_ref:
        body = re.sub(r"\bmyself\b", speaker_ref, body, flags=re.I)
        body = re.sub(r"\bmy\b", f"{speaker_ref}'s", body, flags=re.I)
        body = re.sub(r"\bme\b", speaker_ref, body, flags=re.I)
    body = re.sub(r"\bthe (agent|customer)'s\b", r"the \1's", body)
    return body


def extract_action_items(
    sentences: list[Sentence], context: AnalysisContext
) -> list[ActionItemDraft]:
    base = context.started_at.date() if context.started_at else None
    items: list[tuple[ActionItemDraft, set[str]]] = []
    for s in sentences:
        text = s.text.replace("’", "'")
        for regex, is_request in ((_COMMIT_RE, False), (_REQUEST_RE, True)):
            m = regex.search(text)
            if not m:
                continue
            trig = m.group("trig").lower()
            body = _ADVERB_START_RE.sub("", m.group("body")).strip()
            end = CLAUSE_END_RE.search(body)
            clause = body[: end.start()] if end else body
            clause = clause.strip(" ,")
            first = words_of(clause)[:1]
            if not first:
                continue
            verb = first[0]
            go_ahead = re.match(r"go ahead and (\w+)", clause, re.I)
            if go_ahead:
                verb = go_ahead.group(1).lower()
            due_match = DUE_RE.search(body)
            weak_trigger = (
                trig
                in {
                    "let me",
                    "let us",
                    "let's",
                    "i can",
                    "we can",
                    "i need to",
                    "i have to",
                    "we need to",
                    "we have to",
                }
                or is_request
            )
            if verb not in _ACTION_VERBS:
                continue
            if weak_trigger and verb not in _STRONG_VERBS and not due_match:
                continue
            if (
                verb
                in {"let", "come", "give", "make", "put", "get", "talk", "speak", "check", "look"}
                and not due_match
                and verb not in _STRONG_VERBS
            ):
                continue
            if verb == "get" and not re.match(
                r"get (?:back|in touch|you|that|it|the|a|an|this)", clause, re.I
            ):
                continue
            if IN_CALL_OBJECTS.search(clause) and not due_match:
                continue
            if is_request and s.role not in {"agent", "customer"}:
                owner_role: str | None = None
            elif is_request:
                owner_role = other_role(s.role)
            else:
                owner_role = s.role
            if trig in {"let's", "let us"}:
                owner_role = None
            if due_match:
                clause = clause.replace(due_match.group(0), " ")
            title = _rewrite_title(clause, s.role, owner_role, context)
            title = SPACE_RE.sub(" ", title).strip(" ,.;:-")
            substance = [
                w
                for w in content_words(title)
                if w not in {"agent", "customer", "agent's", "customer's"}
            ]
            if not substance or len(title) < 6 or " 's" in title:
                continue
            title = truncate(capitalize(title), TITLE_MAX)
            low = text.lower()
            due = resolve_due(due_match, base) if due_match else None
            priority: Literal["high", "medium", "low"]
            if any(w in low for w in lexicon.URGENT_WORDS) or (base and due == base.isoformat()):
                priority = "high"
            elif any(w in low for w in lexicon.LOW_PRIORITY_WORDS):
                priority = "low"
            else:
                priority = "medium"
            if owner_role is None:
                owner = s.speaker if (trig not in {"let's", "let us"} and s.speaker) else None
            elif owner_role == s.role:
                owner = _owner(s.role, s.speaker, context)
            else:
                owner = _owner(owner_role, None, context)
            key = {stem_of(w) for w in content_words(title)}
            duplicate = False
            for existing, existing_key in items:
                overlap = len(key & existing_key) / max(len(key | existing_key), 1)
                if overlap >= 0.6 and existing.owner == owner:
                    duplicate = True
                    if existing.due is None and due:
                        existing.due = due
                    if priority == "high":
                        existing.priority = "high"
                    break
            if not duplicate:
                items.append(
                    (ActionItemDraft(title=title, priority=priority, owner=owner, due=due), key)
                )
            break  # one item per sentence
    return [item for item, _ in items[:12]]

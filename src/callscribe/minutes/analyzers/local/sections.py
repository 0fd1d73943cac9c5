"""The overview line and the headed sections of the minutes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from callscribe.minutes.analyzers.base import truncate
from callscribe.minutes.analyzers.local.outcome import RESOLUTION_RE, cue_hits
from callscribe.minutes.analyzers.local.summary import (
    ID_RE,
    SMALL_TALK_RE,
    summary_sentence,
    word_similarity,
)
from callscribe.minutes.analyzers.local.text import Sentence, capitalize, format_ms
from callscribe.minutes.schemas import (
    ActionItemDraft,
    AnalysisContext,
    Section,
    TurnIn,
)


def write_overview(
    turns: Sequence[TurnIn], context: AnalysisContext, sentences: list[Sentence]
) -> str:
    kind = {
        "voice": "Call",
        "chat": "Chat",
        "email": "Email thread",
        "ticket": "Ticket",
        "meeting": "Meeting",
    }.get(context.channel, capitalize(context.channel))
    parties = []
    if context.agent_name:
        parties.append(f"agent {context.agent_name}")
    if context.customer_name:
        parties.append(f"customer {context.customer_name}")
    speakers = sorted({t.speaker for t in turns if t.speaker})
    if not parties and speakers:
        parties = speakers[:6]
    text = kind
    if parties:
        text += " with " + ", ".join(parties)
    n_turns = len({s.turn for s in sentences})
    text += f": {n_turns} turn{'s' if n_turns != 1 else ''}"
    # the call's own length (the one the page and exports show); else the last turn's end,
    # when the turn times are real (not a made-up clock)
    if context.duration_s:
        text += f", {format_ms(int(context.duration_s * 1000))} long"
    elif context.times_real:
        end_ms = max((t.end_ms for t in turns), default=0)
        if end_ms > 0:
            text += f", {format_ms(end_ms)} long"
    words = sum(len(s.words) for s in sentences)
    return text + f", {words} words."


def build_sections(
    sentences: list[Sentence],
    rank: np.ndarray,
    picked: list[Sentence],
    request: Sentence | None,
    action_items: list[ActionItemDraft],
    context: AnalysisContext,
) -> list[Section]:
    sections: list[Section] = []
    used = {s.index for s in picked}
    has_customer = any(s.role == "customer" for s in sentences)
    if request is not None:
        follow = [
            s
            for s in sentences
            if s.role == "customer"
            and request.index < s.index <= request.index + 6
            and len(s.content) >= 3
            and len(s.words) >= 4
            and not ID_RE.search(s.text)
            and not SMALL_TALK_RE.search(s.text)
        ][:1]
        bullets = [truncate(summary_sentence(s, context), 200) for s in [request, *follow]]
        sections.append(Section(heading="Customer request", bullets=bullets))
        used.update(s.index for s in [request, *follow])
    candidates = [
        s
        for s in sentences
        if s.index not in used
        and len(s.content) >= 3
        and not ("?" in s.text and s.role == "agent")
        and not SMALL_TALK_RE.search(s.text)
        and not (ID_RE.search(s.text) and len(s.content) < 5)
    ]
    candidates.sort(key=lambda s: (-rank[s.index] * min(1.0, len(s.content) / 6), s.index))
    discussion: list[Sentence] = []
    for cand in candidates:
        if any(word_similarity(cand.content, d.content) > 0.5 for d in discussion):
            continue
        discussion.append(cand)
        if len(discussion) >= 5:
            break
    if discussion:
        heading = "Discussion" if has_customer else "Main points"
        bullets = [
            truncate(summary_sentence(s, context), 200)
            for s in sorted(discussion, key=lambda s: s.index)
        ]
        sections.append(Section(heading=heading, bullets=bullets))
    tail = [s for s in sentences if s.position >= 0.7 and len(s.content) >= 2]
    resolution = [
        s
        for s in tail
        if cue_hits(s.text.lower(), RESOLUTION_RE) and not SMALL_TALK_RE.search(s.text)
    ][-3:]
    if resolution:
        sections.append(
            Section(
                heading="Resolution",
                bullets=[truncate(summary_sentence(s, context), 200) for s in resolution],
            )
        )
    if action_items:
        bullets = []
        for item in action_items:
            line = item.title
            if item.owner:
                line += f" ({item.owner}"
                line += f", due {item.due})" if item.due else ")"
            elif item.due:
                line += f" (due {item.due})"
            bullets.append(line)
        sections.append(Section(heading="Next steps", bullets=bullets))
    return sections

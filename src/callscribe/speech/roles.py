"""Which channel of a stereo call is the agent: a small scorer over what each party says.

Contact-centre agents greet and offer help ("thank you for calling", "how can I help"),
ask for details ("can I have your name", "what time would you like") and confirm
("I have booked", "anything else"); customers state a need ("I'm looking for a train",
"I need", "I would like"). Each phrase found adds its weight to its channel's agent
score (or to the other's); the source's configured side is a small prior, so a call with
no evidence keeps the configured roles. Confidence is a logistic of the score margin:
0.5 = a coin toss, close to 1 = clear.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# (pattern, weight): evidence the speaker is the agent
AGENT_PHRASES: tuple[tuple[str, float], ...] = (
    (r"\bhow (can|may|could) i (help|assist)", 3.0),
    (r"\bwhat can i do for you", 3.0),
    (r"\bthank(s| you) for (calling|contacting|holding|waiting)", 3.0),
    (r"\bwelcome to\b", 2.0),
    (r"\b(this is|my name is|you'?re speaking (to|with))\b", 1.0),
    (r"\b(can|may|could) i (have|get|take) (your|the)\b", 2.0),
    (r"\bwhat (is|'s) your\b", 1.5),
    (r"\bwhat time would you like\b", 1.5),
    (r"\bhow many (people|tickets|nights|guests)\b", 1.5),
    (r"\b(is there )?anything else (i can|you need)\b", 2.0),
    (r"\blet me (check|see|look)\b", 1.5),
    (r"\bi('ve| have) (booked|reserved|found)\b", 1.5),
    (r"\byour (reference|booking|confirmation) (number|code)\b", 2.0),
    (r"\bwould you like (me|to)\b", 1.0),
    (r"\bhave a (nice|good|great) (day|evening|trip)\b", 1.0),
)
# (pattern, weight): evidence the speaker is the customer
CUSTOMER_PHRASES: tuple[tuple[str, float], ...] = (
    (r"\bi('m| am) (looking for|trying to|calling (about|because|to))\b", 3.0),
    (r"\bi (need|want) (a|an|to|some)\b", 2.0),
    (r"\bi('d| would) like (a|an|to|some)\b", 2.0),
    (r"\b(can|could) you (help me|book|tell me|find)\b", 2.0),
    (r"\bi have a (problem|question|complaint|issue)\b", 2.0),
    (r"\bmy (order|account|card|booking|bill)\b", 1.0),
)
PRIOR_WEIGHT = 1.0  # the configured side: enough to settle a tie, not to outvote a phrase
QUESTION_WEIGHT = 0.25  # per question asked, capped at QUESTION_CAP
QUESTION_CAP = 8
FIRST_SPEAKER_WEIGHT = 0.5  # the agent usually speaks first on an answered call
CONFIDENCE_SCALE = 1.5  # a margin of this much gives confidence 0.73

_AGENT = [(re.compile(p, re.I), w) for p, w in AGENT_PHRASES]
_CUSTOMER = [(re.compile(p, re.I), w) for p, w in CUSTOMER_PHRASES]


@dataclass(frozen=True)
class RoleGuess:
    agent_channel: int  # 0 = left, 1 = right
    confidence: float  # 0.5..1.0
    scores: dict[int, float] = field(default_factory=dict)  # agent score per channel
    evidence: dict[int, list[str]] = field(default_factory=dict)  # phrases matched

    def as_meta(self) -> dict[str, object]:
        return {
            "agent_channel": self.agent_channel,
            "confidence": round(self.confidence, 2),
            "scores": {str(k): round(v, 2) for k, v in self.scores.items()},
            "evidence": {str(k): v[:5] for k, v in self.evidence.items()},
        }


def _score(lines: Iterable[str]) -> tuple[float, float, list[str]]:
    agent = customer = 0.0
    questions = 0
    found: list[str] = []
    for line in lines:
        questions += line.count("?")
        for pattern, weight in _AGENT:
            if m := pattern.search(line):
                agent += weight
                found.append(m.group(0).lower())
        for pattern, weight in _CUSTOMER:
            if m := pattern.search(line):
                customer += weight
                found.append(m.group(0).lower())
    agent += QUESTION_WEIGHT * min(questions, QUESTION_CAP)
    return agent, customer, found


def guess_agent_channel(
    segments: Iterable[tuple[int, float, str]], prior_agent_channel: int | None = 0
) -> RoleGuess:
    """segments: (channel 0/1, start_s, text). The channel that sounds more like the
    agent, given that the other one is the customer; `prior_agent_channel` is the
    source's configured side (None: no prior)."""
    by_channel: dict[int, list[str]] = {0: [], 1: []}
    first: tuple[float, int] | None = None
    for channel, start_s, text in segments:
        if channel not in by_channel or not text.strip():
            continue
        by_channel[channel].append(text)
        if first is None or start_s < first[0]:
            first = (start_s, channel)
    raw = {ch: _score(lines) for ch, lines in by_channel.items()}
    # how agent-like a channel is: its own agent phrases plus the other's customer ones
    scores = {ch: raw[ch][0] - raw[ch][1] + raw[1 - ch][1] - raw[1 - ch][0] for ch in by_channel}
    scores = {ch: s / 2 for ch, s in scores.items()}
    if prior_agent_channel in by_channel:
        scores[prior_agent_channel] += PRIOR_WEIGHT
    if first is not None:
        scores[first[1]] += FIRST_SPEAKER_WEIGHT
    agent_channel = 0 if scores[0] >= scores[1] else 1
    margin = abs(scores[0] - scores[1])
    confidence = 1 / (1 + math.exp(-margin / CONFIDENCE_SCALE))
    return RoleGuess(
        agent_channel=agent_channel,
        confidence=confidence,
        scores=scores,
        evidence={ch: raw[ch][2] for ch in by_channel},
    )


def agent_channel_of(roles: Mapping[str, str]) -> int | None:
    """The channel a {"0": role, "1": role} map gives the agent (None when neither)."""
    for channel, role in roles.items():
        if role == "agent" and channel in ("0", "1"):
            return int(channel)
    return None

"""Agent and customer on a diarized mono call, from what each speaker says.

The stereo scorer (speech.roles) does the work: on a two-speaker call S1 and S2 stand
in for the two channels. A source's own configured role of channel 0 (its
`channel_roles`, when it has one; the default is no prior) is the prior for the first
speaker (an inbound line's agent answers first; an outbound dialer's customer does), so
`channel_roles` configures mono sources too. Below MIN_CONFIDENCE every
speaker stays `unknown`: a wrong agent is worse than none. More than two speakers (a
meeting) get no roles.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from callscribe.speech.roles import guess_agent_channel

MIN_CONFIDENCE = 0.75  # a margin of ~1.7 agent-phrase points


@dataclass(frozen=True)
class SpeakerRoles:
    roles: dict[str, str] = field(default_factory=dict)  # speaker -> agent/customer/unknown
    confidence: float = 0.0
    evidence: dict[str, list[str]] = field(default_factory=dict)

    def as_meta(self) -> dict[str, object]:
        return {
            "speaker_roles": self.roles,
            "confidence": round(self.confidence, 2),
            "evidence": {k: v[:5] for k, v in self.evidence.items()},
        }


def assign_speaker_roles(
    said: Iterable[tuple[str, float, str]],
    *,
    configured: Mapping[str, str] | None = None,
    min_confidence: float = MIN_CONFIDENCE,
) -> SpeakerRoles:
    """said: (speaker, start_s, text). configured: the source's channel_roles ("0" is
    the first speaker's prior role)."""
    said = [(s, t, x) for s, t, x in said if x.strip()]
    order: list[str] = []
    for speaker, _start, _text in sorted(said, key=lambda r: r[1]):
        if speaker not in order:
            order.append(speaker)
    if len(order) != 2:
        return SpeakerRoles(roles={s: "unknown" for s in order})
    index = {order[0]: 0, order[1]: 1}
    first_role = (configured or {}).get("0")
    prior = 0 if first_role == "agent" else 1 if first_role == "customer" else None
    guess = guess_agent_channel(
        [(index[s], start, text) for s, start, text in said], prior_agent_channel=prior
    )
    evidence = {order[ch]: found for ch, found in guess.evidence.items()}
    if guess.confidence < min_confidence:
        return SpeakerRoles(
            roles={s: "unknown" for s in order}, confidence=guess.confidence, evidence=evidence
        )
    agent = order[guess.agent_channel]
    return SpeakerRoles(
        roles={s: "agent" if s == agent else "customer" for s in order},
        confidence=guess.confidence,
        evidence=evidence,
    )

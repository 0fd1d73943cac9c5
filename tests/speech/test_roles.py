"""speech.roles: which channel of a stereo call is the agent, from what each side says."""

from __future__ import annotations

import json

from callscribe.speech.roles import guess_agent_channel
from tests.conftest import DATA

HARPER = DATA / "transcripts" / "harper_valley" / "0002f70f7386445b.transcript.json"


def harper_segments(agent_channel: int) -> list[tuple[int, float, str]]:
    """The real Harper Valley bank call, its agent put on `agent_channel`."""
    turns = json.loads(HARPER.read_text())
    return [
        (
            agent_channel if t["speaker_role"] == "agent" else 1 - agent_channel,
            t["start_ms"] / 1000,
            t["human_transcript"],
        )
        for t in turns
    ]


def test_real_bank_call_agent_found_on_either_channel_against_the_prior() -> None:
    for agent_channel in (0, 1):
        guess = guess_agent_channel(
            harper_segments(agent_channel), prior_agent_channel=1 - agent_channel
        )
        assert guess.agent_channel == agent_channel, guess
        assert guess.confidence > 0.8, guess
        assert any("help" in e for e in guess.evidence[agent_channel]), guess.evidence


def test_booking_call_customer_stating_a_need_is_not_the_agent() -> None:
    """The MUL1011 symptom: the left channel says "I'm looking for a train"."""
    segments = [
        (1, 0.5, "Hello, thank you for calling. How can I help you?"),
        (0, 3.0, "Hi, I'm looking for a train to Cambridge on Saturday."),
        (1, 6.0, "What time would you like to leave?"),
        (0, 8.0, "I would like to leave after 8:30."),
        (1, 11.0, "I have booked it. Your reference number is X7. Anything else I can do?"),
    ]
    guess = guess_agent_channel(segments, prior_agent_channel=0)
    assert guess.agent_channel == 1
    assert guess.confidence > 0.9


def test_no_evidence_keeps_the_configured_side_with_low_confidence() -> None:
    segments = [(0, 0.0, "The horizon seems extremely distant."), (1, 0.1, "Quite so.")]
    for prior in (0, 1):
        guess = guess_agent_channel(segments, prior_agent_channel=prior)
        assert guess.agent_channel == prior
        assert guess.confidence < 0.85

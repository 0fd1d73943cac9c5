"""Conversation stats (speech.stats): on a real stereo call's turns (Harper Valley, each
party on its own channel, word-level times) checked against a frame-by-frame count of
the channels, and on a synthetic two-channel conversation with overlaps counted by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import DATA

HARPER = DATA / "transcripts" / "harper_valley" / "0002f70f7386445b.transcript.json"


def harper_turns():  # type: ignore[no-untyped-def]
    from callscribe.speech.stats import TurnSpan

    rows = json.loads(HARPER.read_text())
    role = {"agent": "agent", "caller": "customer"}
    return [
        TurnSpan(
            role[r["speaker_role"]],
            r["start_ms"],
            r["start_ms"] + r["duration_ms"],
            r["transcript"],
        )
        for r in rows
    ]


def channel_frames(turns, end_ms: int) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    """Each role's channel as 1-ms frames: True while that party speaks."""
    frames: dict[str, np.ndarray] = {}
    for t in turns:
        frames.setdefault(t.role, np.zeros(end_ms, dtype=bool))[t.start_ms : t.end_ms] = True
    return frames


def test_each_stat_on_a_real_stereo_call_matches_its_channels() -> None:
    from callscribe.speech.stats import conversation_stats

    turns = harper_turns()
    end = max(t.end_ms for t in turns)
    stats = conversation_stats(turns, duration_ms=end + 20_000)  # 20 s of silence after
    frames = channel_frames(turns, end + 20_000)
    agent, customer = frames["agent"], frames["customer"]

    # talk time and ratio: the frames each channel is active
    assert stats["talk_s"]["agent"] == pytest.approx(agent.sum() / 1000, abs=0.002)
    assert stats["talk_s"]["customer"] == pytest.approx(customer.sum() / 1000, abs=0.002)
    total = agent.sum() + customer.sum()
    assert stats["talk_ratio"]["agent"] == pytest.approx(agent.sum() / total, abs=1e-3)
    assert sum(stats["talk_ratio"].values()) == pytest.approx(1.0, abs=1e-3)
    # silence: frames where neither channel is active, over the whole recording
    silent = ~(agent | customer)
    assert stats["silence_share"] == pytest.approx(silent.mean(), abs=1e-3)
    # holds: silent runs over 10 s -- here only the 20 s tail (the gaps are shorter)
    edges = np.flatnonzero(np.diff(np.r_[0, silent.astype(int), 0]))
    runs = [(a, b) for a, b in zip(edges[::2], edges[1::2], strict=True) if b - a > 10_000]
    assert stats["hold_spans"] == [[int(a), int(b)] for a, b in runs]
    assert stats["hold_s"] == pytest.approx(sum(b - a for a, b in runs) / 1000)
    assert stats["hold_s"] == pytest.approx(20.0, abs=0.01)

    # interruptions: a party's turn that starts on a frame where the other channel is on
    # (by hand: the agent cuts in twice, at 29.569 s and 43.639 s; the customer never)
    expected = {
        role: sum(
            1
            for t in turns
            if t.role == role and any(f[t.start_ms] for r, f in frames.items() if r != role)
        )
        for role in frames
    }
    assert stats["interruptions"] == expected == {"agent": 2, "customer": 0}

    # longest monologue: the agent's opening (1.669 s .. 7.699 s), the customer's four
    # turns after it (12.890 s .. 20.000 s)
    assert stats["longest_monologue_s"] == {"agent": 6.03, "customer": 7.11}
    # response time: from the other party's end to the turn that answers it
    assert stats["response_time_s"]["customer"]["max"] == pytest.approx(12.890 - 7.699)
    assert stats["response_time_s"]["agent"]["max"] == pytest.approx(21.539 - 20.000)
    # words per minute: words over talk minutes
    agent_words = sum(len(t.text.split()) for t in turns if t.role == "agent")
    assert stats["wpm"]["agent"] == pytest.approx(agent_words / (agent.sum() / 60_000), abs=0.1)
    # questions (no punctuation in this transcript: opening interrogatives): "how can i
    # help you", "which part...", "can you repeat that", "is there anything else";
    # "can you send me a new one"
    assert stats["questions"] == {"agent": 4, "customer": 1}


def test_a_synthetic_two_channel_conversation_counted_by_hand() -> None:
    from callscribe.speech.stats import TurnSpan, conversation_stats, stats_facts

    a, c = "agent", "customer"
    turns = [
        TurnSpan(a, 0, 4000, "Thanks for calling. How can I help?"),  # 0-4 s
        TurnSpan(c, 5000, 9000, "My card was charged twice."),  # 1 s pause
        TurnSpan(a, 8000, 10000, "I see."),  # cuts in at 8 s: 1 interruption, response 0
        TurnSpan(c, 10500, 12000, "Can you fix it?"),  # 0.5 s pause
        TurnSpan(a, 25000, 30000, "Done, the refund is on its way."),  # 13 s silence: a hold
        TurnSpan(c, 29000, 29500, "Great"),  # inside the agent's turn: an interruption
        TurnSpan(c, 31000, 32000, "Thank you!"),  # after the agent: but prev turn is c
    ]
    s = conversation_stats(turns, duration_ms=32000)
    assert s["talk_s"] == {a: 11.0, c: 7.0}
    assert s["talk_ratio"] == {a: round(11 / 18, 4), c: round(7 / 18, 4)}
    # speech union: 0-4, 5-10, 10.5-12, 25-30, 31-32 -> silent 1 + .5 + 13 + 1 of 32 s
    assert s["silence_share"] == round(15.5 / 32, 4)
    assert s["hold_spans"] == [[12000, 25000]] and s["hold_s"] == 13.0
    assert s["interruptions"] == {a: 1, c: 1}
    # agent responses: 8000-9000 -> 0 (overlap), 25000-12000 = 13 s; customer: 1 s,
    # 0.5 s, and "Great" at 29 s inside the agent's turn -> 0
    assert s["response_time_s"] == {a: {"avg": 6.5, "max": 13.0}, c: {"avg": 0.5, "max": 1.0}}
    assert s["patience_s"] == {a: 13.0, c: 0.75}  # pauses that were not cut-ins
    assert s["longest_monologue_s"] == {a: 5.0, c: 4.0}
    assert s["questions"] == {a: 1, c: 1}
    assert s["wpm"][c] == round(12 * 60 / 7, 1)

    facts = stats_facts(s)
    assert facts["talk_s_agent"] == 11.0 and facts["interruptions_customer"] == 1
    assert facts["response_time_max_s_agent"] == 13.0 and facts["hold_s"] == 13.0
    assert facts["patience_s_customer"] == 0.75 and facts["questions_agent"] == 1


def test_messages_get_only_what_is_meaningful() -> None:
    from callscribe.speech.stats import TurnSpan, conversation_stats, stats_facts

    turns = [
        TurnSpan("customer", 0, 0, "Where is my order?"),
        TurnSpan("agent", 60_000, 60_000, "Let me check. It ships today."),
        TurnSpan("customer", 90_000, 90_000, "Thanks"),
    ]
    real = conversation_stats(turns, voice=False, times_real=True)
    assert real["talk_s"] is None and real["wpm"] is None and real["interruptions"] is None
    assert real["silence_share"] is None and real["hold_s"] is None
    assert real["response_time_s"] == {
        "agent": {"avg": 60.0, "max": 60.0},
        "customer": {"avg": 30.0, "max": 30.0},
    }
    assert real["questions"] == {"agent": 0, "customer": 1}
    made_up = conversation_stats(turns, voice=False, times_real=False)
    assert made_up["response_time_s"] is None and made_up["patience_s"] is None
    assert set(stats_facts(made_up)) == {"questions_agent", "questions_customer"}
    assert conversation_stats([])["talk_s"] == {} and conversation_stats([])["hold_s"] is None


def test_interruptions_match_the_pairwise_definition_on_random_overlaps() -> None:
    """The sweep against the definition itself, pair by pair, on random two- and
    three-party turns (ties included)."""
    import random

    from callscribe.speech.stats import TurnSpan, conversation_stats

    rng = random.Random(15)
    for _ in range(200):
        turns = []
        for _ in range(rng.randint(1, 12)):
            start = rng.randrange(0, 20) * 500
            turns.append(TurnSpan(rng.choice("abc"), start, start + rng.randrange(1, 8) * 500, "x"))
        expected: dict[str, int] = {}
        for t in turns:
            expected.setdefault(t.role, 0)
            if any(o.role != t.role and o.start_ms < t.start_ms < o.end_ms for o in turns):
                expected[t.role] += 1
        assert conversation_stats(turns)["interruptions"] == expected

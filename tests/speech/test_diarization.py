"""Diarization of mono recordings: the classic diarizer on real voices with known
turns, the DER it is measured by, the word-level split of transcribed segments, and
agent/customer from what each speaker says."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from callscribe.errors import CallscribeError
from callscribe.speech.audio import decode_mono
from callscribe.speech.diarization import Diarization, SpeakerTurn, get_diarizer
from callscribe.speech.diarization.base import split_by_speaker
from callscribe.speech.diarization.metrics import der, read_rttm
from callscribe.speech.diarization.roles import assign_speaker_roles
from tests.speech.conftest import AUDIO_DIR

SR = 16_000


@cache
def _audio(name: str) -> np.ndarray:
    return decode_mono(AUDIO_DIR / name).astype(np.float32) / 32768


def _two_voices() -> tuple[np.ndarray, list[tuple[float, float, str]]]:
    """Kennedy (jfk.flac) and Diane (sample.wav, a phone line) taking turns, with 0.4 s
    pauses: real voices from two recordings, the truth known by construction."""
    jfk, phone = _audio("jfk.flac"), _audio("sample.wav")
    pieces = [
        ("jfk", jfk[int(0.3 * SR) : int(3.5 * SR)]),
        ("diane", phone[int(10.6 * SR) : int(14.4 * SR)]),
        ("jfk", jfk[int(3.8 * SR) : int(7.5 * SR)]),
        ("diane", phone[int(18.1 * SR) : int(21.4 * SR)]),
        ("jfk", jfk[int(7.7 * SR) : int(10.8 * SR)]),
    ]
    gap = np.zeros(int(0.4 * SR), dtype=np.float32)
    out: list[np.ndarray] = []
    truth: list[tuple[float, float, str]] = []
    t = 0.0
    for name, samples in pieces:
        out += [samples, gap]
        truth.append((t, t + len(samples) / SR, name))
        t += (len(samples) + len(gap)) / SR
    return np.concatenate(out), truth


def _hyp(result: Diarization) -> list[tuple[float, float, str]]:
    return [(t.start_s, t.end_s, t.speaker) for t in result.turns]


def test_two_voices_taking_turns_are_two_speakers_with_low_der() -> None:
    audio, truth = _two_voices()
    for num in (2, None):  # told it is a call, and estimating the count
        result = get_diarizer().diarize(audio, num_speakers=num)
        assert result.speakers == ["S1", "S2"]
        score = der(truth, _hyp(result))
        assert score.der < 0.15, (num, score)
        # S1 is who spoke first: Kennedy
        assert result.speaker_of(0.5, 3.0) == "S1"
        assert result.speaker_of(4.5, 7.0) == "S2"


def test_sample_call_gives_two_speakers_better_than_one_speaker() -> None:
    audio = _audio("sample.wav")
    result = get_diarizer().diarize(audio, num_speakers=2)
    ref = read_rttm(AUDIO_DIR / "sample.rttm")["sample"]
    assert result.speakers == ["S1", "S2"]
    one = [(t.start_s, t.end_s, "x") for t in result.turns]
    assert der(ref, _hyp(result)).der < der(ref, one).der


def test_one_speaker_recording_gives_one_speaker() -> None:
    result = get_diarizer().diarize(_audio("jfk.flac"), num_speakers=None)
    assert result.speakers == ["S1"]
    assert result.turns[0].start_s < 1.0 and result.turns[-1].end_s > 10.0


@pytest.mark.parametrize("samples", [0, 100, SR * 3])
def test_silence_gives_no_speakers_without_error(samples: int) -> None:
    result = get_diarizer().diarize(np.zeros(samples, dtype=np.float32), num_speakers=2)
    assert result.turns == [] and result.speakers == []
    assert result.speaker_of(0.0, 1.0) is None


def test_unknown_diarizer_is_a_typed_error() -> None:
    with pytest.raises(CallscribeError) as err:
        get_diarizer("pyannote")
    assert err.value.code == "diarizer_unknown" and "classic" in str(err.value)


# --------------------------------------------------------------------------- DER


def test_der_counts_miss_false_alarm_and_confusion() -> None:
    ref = [(0.0, 4.0, "a"), (4.0, 8.0, "b")]
    assert der(ref, [(0.0, 4.0, "x"), (4.0, 8.0, "y")], collar=0).der == 0.0  # names free
    assert der(ref, [], collar=0).der == 1.0
    one = der(ref, [(0.0, 8.0, "x")], collar=0)
    assert one.confusion == pytest.approx(4.0) and one.der == pytest.approx(0.5)
    fa = der(ref, [(0.0, 4.0, "x"), (4.0, 8.0, "y"), (8.0, 10.0, "y")], collar=0)
    assert fa.false_alarm == pytest.approx(2.0) and fa.der == pytest.approx(0.25)
    # a boundary 0.2 s off is forgiven inside a 0.25 s collar, not without one
    late = [(0.0, 4.2, "x"), (4.2, 8.0, "y")]
    assert der(ref, late, collar=0.25).der == 0.0
    assert der(ref, late, collar=0).der == pytest.approx(0.2 / 8)
    # the UEM limits what is scored
    assert der(ref, [(0.0, 4.0, "x")], collar=0, uem=(0.0, 4.0)).der == 0.0


# --------------------------------------------------------------------------- turns


def test_a_segment_is_split_where_the_speaker_changes() -> None:
    d = Diarization([SpeakerTurn(0.0, 2.0, "S1"), SpeakerTurn(2.1, 5.0, "S2")])
    words = (
        (0.1, 0.5, " Hello."),
        (0.6, 1.9, " Hi there."),
        (2.05, 2.3, " Hi,"),
        (2.4, 3.0, " me."),
    )
    pieces = split_by_speaker(d, 0.1, 3.0, "Hello. Hi there. Hi, me.", words)
    assert pieces == [(0.1, 1.9, "Hello. Hi there.", "S1"), (2.05, 3.0, "Hi, me.", "S2")]
    # no words: the whole segment goes to whoever speaks most of it
    assert split_by_speaker(d, 1.5, 4.0, "x") == [(1.5, 4.0, "x", "S2")]


# --------------------------------------------------------------------------- roles

CALL = [
    ("S1", 0.0, "Thank you for calling Acme Bank, this is Dana, how can I help you?"),
    ("S2", 4.0, "Hi, I'm calling about my card, I lost it yesterday."),
    ("S1", 8.0, "I'm sorry to hear that. Can I have your account number to verify?"),
    ("S2", 12.0, "Sure, it's 1234 5678."),
    ("S1", 15.0, "Thank you. Is there anything else I can help you with?"),
]


def test_agent_is_who_greets_and_asks_for_details() -> None:
    guess = assign_speaker_roles(CALL)
    assert guess.roles == {"S1": "agent", "S2": "customer"} and guess.confidence > 0.9
    # the same call where the customer spoke first (an outbound call): still right
    swapped = [("S2" if s == "S1" else "S1", t, x) for s, t, x in CALL]
    assert assign_speaker_roles(swapped).roles == {"S2": "agent", "S1": "customer"}


def test_unsure_is_unknown_not_a_guess() -> None:
    # sample.wav's truth (sample.stm): two people chatting, no agent
    chat = [
        ("S1", 6.7, "Hello?"),
        ("S2", 7.6, "Hello?"),
        ("S1", 12.5, "This is Diane in New Jersey."),
        ("S2", 14.4, "And I'm Sheila in Texas, originally from Chicago."),
    ]
    guess = assign_speaker_roles(chat)
    assert set(guess.roles.values()) == {"unknown"} and guess.confidence < 0.75
    # a source configured "the first speaker is the agent" (channel 0): Diane, who
    # introduces herself first, is the agent
    configured = assign_speaker_roles(chat, configured={"0": "agent", "1": "customer"})
    assert configured.roles == {"S1": "agent", "S2": "customer"}
    # three speakers (a meeting): no roles
    meeting = [*CALL, ("S3", 20.0, "I'm the supervisor.")]
    assert set(assign_speaker_roles(meeting).roles.values()) == {"unknown"}
    assert assign_speaker_roles([]).roles == {}


def test_the_sources_configured_side_is_the_prior_for_the_first_speaker() -> None:
    weak = [("S1", 0.0, "Good morning, this is Sam."), ("S2", 2.0, "Hi Sam, I have a question.")]
    as_agent = assign_speaker_roles(weak, configured={"0": "agent"}, min_confidence=0.5)
    as_customer = assign_speaker_roles(weak, configured={"0": "customer"}, min_confidence=0.5)
    assert as_agent.confidence > as_customer.confidence


def test_call_page_labels_diarized_speakers_by_role_when_known() -> None:
    from types import SimpleNamespace

    from callscribe.calls.views import role_label

    call = SimpleNamespace(customer_name="Ann Lee")
    agent = SimpleNamespace(name="Dana")
    assert role_label("unknown", "S2", call, agent) == "Speaker 2"  # type: ignore[arg-type]
    assert role_label("agent", "S1", call, agent) == "Dana (S1)"  # type: ignore[arg-type]
    assert role_label("customer", "S2", call, None) == "Ann Lee (S2)"  # type: ignore[arg-type]
    assert role_label("agent", "Dana", call, agent) == "Dana"  # type: ignore[arg-type]

"""Speaker roles of stereo calls: the per-call guess, Swap agent/customer, Reprocess."""

from __future__ import annotations

import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from callscribe.speech import service as speech
from tests.calls.test_pipeline import upload
from tests.conftest import AUDIO, wait_for_status

pytestmark = pytest.mark.slow

# A two-party booking call with the agent on the RIGHT channel (the configured default
# says left). No TTS is available offline, so each channel is a tone and the scripted
# engine below "hears" each party's lines by the tone's pitch; the role guess, the swap
# and the reprocess run through the real pipeline, database and API.
LEFT_HZ, RIGHT_HZ = 300.0, 700.0
CUSTOMER_LINES = ["Hi, I'm looking for a train to Cambridge.", "I would like to leave after 8."]
AGENT_LINES = ["Thank you for calling, how can I help you?", "Let me check. I have booked it."]


class ScriptedEngine:
    name = "scripted"
    decoding = {"engine": "scripted"}

    def transcribe(
        self, audio: np.ndarray, *, language: str | None = None
    ) -> Iterator[tuple[float, float, str]]:
        spectrum = np.abs(np.fft.rfft(audio[: speech.SAMPLE_RATE]))
        pitch = np.argmax(spectrum) * speech.SAMPLE_RATE / min(len(audio), speech.SAMPLE_RATE)
        lines = AGENT_LINES if abs(pitch - RIGHT_HZ) < abs(pitch - LEFT_HZ) else CUSTOMER_LINES
        offset = 0.0 if lines is AGENT_LINES else 1.0
        for i, line in enumerate(lines):
            yield offset + 2.0 * i, offset + 2.0 * i + 0.9, line


def write_two_tone_call(path: Path, seconds: float = 4.0) -> Path:
    t = np.arange(int(seconds * speech.SAMPLE_RATE)) / speech.SAMPLE_RATE
    left = 0.3 * np.sin(2 * np.pi * LEFT_HZ * t)
    right = 0.3 * np.sin(2 * np.pi * RIGHT_HZ * t)
    frames = (np.stack([left, right], axis=1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(speech.SAMPLE_RATE)
        out.writeframes(frames.tobytes())
    return path


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(speech.ENGINES, "faster-whisper", lambda config: ScriptedEngine())


def roles_by_channel(call: dict[str, Any]) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for turn in call["turns"]:
        out.setdefault(turn["channel"], set()).add(turn["role"])
    return out


def test_agent_on_the_right_is_guessed_swapped_by_hand_and_reprocessed(
    live_server, company, scripted, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a stereo call whose agent speaks on the right channel (default: left)
    WHEN it is processed THEN the guess puts the agent right and says how sure;
    WHEN a person swaps the roles THEN every turn flips and the Minutes are redone;
    WHEN they reprocess THEN the transcript and the guess are made again."""
    call_id = upload(live_server, company, write_two_tone_call(tmp_path / "booking.wav"))
    with live_server.client(headers=company.headers) as client:
        call = wait_for_status(client, call_id)
        assert call["status"] == "completed", call["error"]
        assert roles_by_channel(call) == {0: {"customer"}, 1: {"agent"}}
        roles = call["metadata"]["roles"]
        assert roles["method"] == "guessed" and roles["agent_channel"] == 1
        assert roles["configured_agent_channel"] == 0
        assert roles["confidence"] > 0.9

        resp = client.post(f"/api/calls/{call_id}/swap-roles")
        assert resp.status_code == 200, resp.text
        swapped = wait_for_status(client, call_id)
        assert swapped["status"] == "completed", swapped["error"]
        assert roles_by_channel(swapped) == {0: {"agent"}, 1: {"customer"}}
        assert swapped["metadata"]["roles"]["method"] == "swapped"
        assert swapped["metadata"]["roles"]["agent_channel"] == 0
        assert [t["text"] for t in swapped["turns"]] == [t["text"] for t in call["turns"]]
        assert swapped["minutes"] is not None

        resp = client.post(f"/api/calls/{call_id}/reprocess")
        assert resp.status_code == 200, resp.text
        again = wait_for_status(client, call_id)
        assert again["status"] == "completed", again["error"]
        assert roles_by_channel(again) == {0: {"customer"}, 1: {"agent"}}
        assert again["metadata"]["roles"]["method"] == "guessed"
        assert len(again["turns"]) == len(call["turns"])  # replaced, not added
        assert len(again["action_items"]) == len(call["action_items"])


def test_mono_call_cannot_be_swapped_and_says_so(live_server, company) -> None:  # type: ignore[no-untyped-def]
    call_id = upload(live_server, company, AUDIO / "jfk.flac")  # identical channels = mono
    with live_server.client(headers=company.headers) as client:
        call = wait_for_status(client, call_id)
        assert call["metadata"]["roles"]["mono"] is True
        resp = client.post(f"/api/calls/{call_id}/swap-roles")
        assert resp.status_code == 400
        assert resp.json()["error"]["code"] == "mono_recording"

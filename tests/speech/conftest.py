"""Shared fixtures for the speech tests: real recordings, the real bundled model, and a
helper that encodes real audio into every container format we accept."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from callscribe.speech.engines import FasterWhisperEngine
from callscribe.speech.service import SpeechConfig, iter_audio_windows

AUDIO_DIR = Path(__file__).resolve().parents[1] / "data" / "audio"
REFERENCES = json.loads((AUDIO_DIR / "faster-whisper-references.json").read_text())

# (our format name, PyAV muxer, encoder, encoder sample rate, muxer options)
FORMAT_SPECS = [
    ("wav", "wav", "pcm_s16le", 16000, {}),
    ("mp3", "mp3", "libmp3lame", 44100, {}),
    ("m4a", "ipod", "aac", 44100, {}),  # the ipod muxer writes major brand "M4A "
    ("mp4", "mp4", "aac", 44100, {}),  # major brand "isom"
    ("webm", "webm", "libopus", 48000, {}),
    ("ogg", "ogg", "libopus", 48000, {}),
    ("flac", "flac", "flac", 16000, {}),
    ("aac", "adts", "aac", 44100, {}),
]


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Levenshtein distance over normalised words, divided by the reference length."""
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[len(hyp)] / max(len(ref), 1)


def encode_audio(
    samples: np.ndarray, path: Path, muxer: str, codec: str, rate: int, options: dict
) -> Path:
    """Write mono 16 kHz float32 samples with a real encoder (PyAV resamples and
    re-frames to what the encoder needs)."""
    with av.open(str(path), "w", format=muxer, options=options) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples[None, :], format="fltp", layout="mono")
        frame.sample_rate = 16000
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


@pytest.fixture(scope="session")
def jfk_mono() -> np.ndarray:
    """jfk.flac as float32 mono 16 kHz, decoded by our own windowing code."""
    ((_, window),) = list(iter_audio_windows(AUDIO_DIR / "jfk.flac", 600, keep_stereo=False))
    return window[0]


@pytest.fixture(scope="session")
def whisper_engine() -> Iterator[FasterWhisperEngine]:
    """The bundled tiny.en, loaded once per test run (it is shared process-wide anyway)."""
    yield FasterWhisperEngine(SpeechConfig(engine="faster-whisper", model="tiny.en"))


@pytest.fixture(autouse=True)
def _loopback_endpoints_allowed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The fake AI/speech providers listen on 127.0.0.1, which the outbound guard refuses
    unless an admin allowed private URLs (as tests/conftest.py's app_env does)."""
    from callscribe.settings import reset_settings

    monkeypatch.setenv("CALLSCRIBE_ALLOW_PRIVATE_URLS", "true")
    reset_settings()
    yield
    reset_settings()

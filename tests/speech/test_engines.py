"""Engines: one contract every SpeechEngine passes, and the OpenAI-compatible engine
against a real local HTTP server speaking POST /v1/audio/transcriptions."""

from __future__ import annotations

import io
import json
import threading
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

from callscribe.errors import UpstreamError
from callscribe.speech.audio import encode_wav
from callscribe.speech.engines import FasterWhisperEngine, OpenAICompatibleEngine
from callscribe.speech.service import SpeechConfig, SpeechEngine, get_engine, transcribe_file

from .conftest import AUDIO_DIR, REFERENCES, word_error_rate

API_KEY = "sk-test-0123456789abcdef"


@dataclass
class FakeProvider:
    """What the local server does and what it received."""

    mode: str = "ok"  # ok | text-only | 401 | 500-text | slow
    slow_s: float = 3.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    engine: FasterWhisperEngine | None = None


def _parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if part.get_filename():
            fields[name] = {
                "filename": part.get_filename(),
                "content_type": part.get_content_type(),
                "data": payload,
            }
        else:
            fields[name] = payload.decode()
    return fields


def _make_handler(provider: FakeProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep pytest output clean
            pass

        def _answer(self, status: int, body: Any, content_type: str = "application/json") -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            fields = _parse_multipart(self.headers["Content-Type"], body)
            provider.requests.append(
                {"path": self.path, "auth": self.headers.get("Authorization"), "fields": fields}
            )
            if self.path != "/v1/audio/transcriptions":
                return self._answer(404, {"error": {"message": "Not found"}})
            if provider.mode == "401" or self.headers.get("Authorization") != f"Bearer {API_KEY}":
                # Like OpenAI, the message echoes (part of) the key it was given.
                given = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                return self._answer(
                    401,
                    {
                        "error": {
                            "message": f"Incorrect API key provided: {given}.",
                            "type": "invalid_request_error",
                            "code": "invalid_api_key",
                        }
                    },
                )
            if provider.mode == "500-text":
                return self._answer(500, b"upstream exploded", "text/plain")
            if provider.mode == "slow":
                time.sleep(provider.slow_s)

            # A real transcription of the uploaded WAV, as a self-hosted
            # OpenAI-compatible server (e.g. faster-whisper-server) would answer.
            with wave.open(io.BytesIO(fields["file"]["data"])) as wav:
                assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (
                    1,
                    2,
                    16000,
                )
                pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
            assert provider.engine is not None
            audio = pcm.astype(np.float32) / 32768.0
            segments = [
                {"id": i, "start": s, "end": e, "text": " " + t}
                for i, (s, e, t) in enumerate(provider.engine.transcribe(audio))
            ]
            text = " ".join(s["text"].strip() for s in segments)
            if provider.mode == "text-only":
                return self._answer(200, {"text": text})
            return self._answer(
                200,
                {
                    "task": "transcribe",
                    "language": "english",
                    "duration": len(audio) / 16000,
                    "text": text,
                    "segments": segments,
                },
            )

    return Handler


@pytest.fixture(scope="module")
def provider_server(
    whisper_engine: FasterWhisperEngine,
) -> Iterator[tuple[str, FakeProvider]]:
    provider = FakeProvider(engine=whisper_engine)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(provider))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", provider
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def provider(provider_server: tuple[str, FakeProvider]) -> Iterator[FakeProvider]:
    _, state = provider_server
    state.mode, state.requests = "ok", []
    yield state


def openai_config(base_url: str, **overrides: Any) -> SpeechConfig:
    values: dict[str, Any] = {
        "engine": "openai",
        "model": "whisper-1",
        "base_url": base_url,
        "api_key": API_KEY,
        "timeout_s": 30,
    }
    values.update(overrides)
    return SpeechConfig(**values)


# ------------------------------------------------------------------ the engine contract


@pytest.fixture(params=["faster-whisper", "faster-whisper-batched", "openai"])
def engine(
    request: pytest.FixtureRequest,
    whisper_engine: FasterWhisperEngine,
    provider_server: tuple[str, FakeProvider],
    provider: FakeProvider,
) -> SpeechEngine:
    if request.param == "faster-whisper":
        return whisper_engine
    if request.param == "faster-whisper-batched":  # the same model, batched decode
        return FasterWhisperEngine(replace(whisper_engine.config, batch_size=4))
    return get_engine(openai_config(provider_server[0]))


@pytest.mark.slow
class TestSpeechEngineContract:
    """Every engine in the registry behaves the same to transcribe_file."""

    def test_yields_timed_text_for_speech(self, engine: SpeechEngine, jfk_mono: np.ndarray):
        results = list(engine.transcribe(jfk_mono))
        assert results
        duration = len(jfk_mono) / 16000
        for start, end, text in results:
            assert isinstance(start, float) and isinstance(end, float)
            assert 0.0 <= start <= end <= duration + 0.5
            assert text == text.strip() and text
        text = " ".join(t for _, _, t in results)
        assert word_error_rate(REFERENCES["jfk.flac"]["text"], text) < 0.2

    def test_yields_nothing_for_silence(self, engine: SpeechEngine):
        assert list(engine.transcribe(np.zeros(16000 * 3, dtype=np.float32))) == []

    def test_accepts_a_language(self, engine: SpeechEngine, jfk_mono: np.ndarray):
        assert list(engine.transcribe(jfk_mono[: 16000 * 4], language="en"))

    def test_drives_transcribe_file_per_channel(self, engine: SpeechEngine):
        segments = list(transcribe_file(AUDIO_DIR / "stereo_diarization.wav", engine))
        right = " ".join(s.text for s in segments if s.channel == 1)
        assert {s.channel for s in segments} == {0, 1}
        refs = REFERENCES["stereo_diarization.wav"]
        assert word_error_rate(refs["right_channel"], right) < 0.2

    def test_has_a_name(self, engine: SpeechEngine):
        assert engine.name in ("faster-whisper", "openai")


# ------------------------------------------------------------------ OpenAI-compatible


@pytest.mark.slow
def test_openai_request_carries_wav_fields_and_bearer_key(
    provider_server: tuple[str, FakeProvider], provider: FakeProvider, jfk_mono: np.ndarray
) -> None:
    engine = get_engine(openai_config(provider_server[0], language="en"))
    assert isinstance(engine, OpenAICompatibleEngine)
    list(engine.transcribe(jfk_mono))

    (request,) = provider.requests
    assert request["path"] == "/v1/audio/transcriptions"
    assert request["auth"] == f"Bearer {API_KEY}"
    fields = request["fields"]
    assert fields["model"] == "whisper-1"
    assert fields["response_format"] == "verbose_json"
    assert fields["timestamp_granularities[]"] == "segment"
    assert fields["language"] == "en"
    upload = fields["file"]
    assert upload["filename"].endswith(".wav")
    assert upload["content_type"] == "audio/wav"
    assert upload["data"][:4] == b"RIFF"
    assert len(upload["data"]) == 44 + 2 * len(jfk_mono)  # PCM16 mono: header + 2 B/sample


@pytest.mark.slow
def test_openai_answer_without_segments_becomes_one_segment(
    provider_server: tuple[str, FakeProvider], provider: FakeProvider, jfk_mono: np.ndarray
) -> None:
    provider.mode = "text-only"
    results = list(get_engine(openai_config(provider_server[0])).transcribe(jfk_mono))
    assert len(results) == 1
    start, end, text = results[0]
    assert (start, end) == (0.0, len(jfk_mono) / 16000)
    assert word_error_rate(REFERENCES["jfk.flac"]["text"], text) < 0.2


def test_openai_rejected_key_is_upstream_error_without_the_key(
    provider_server: tuple[str, FakeProvider], provider: FakeProvider
) -> None:
    provider.mode = "401"
    engine = get_engine(openai_config(provider_server[0]))
    with pytest.raises(UpstreamError) as caught:
        list(engine.transcribe(np.zeros(16000, dtype=np.float32)))
    error = caught.value
    assert "401" in error.message
    assert "Incorrect API key provided" in error.message  # the provider's own words
    assert API_KEY not in error.message and API_KEY not in str(error)
    assert error.status == 502


def test_openai_server_error_is_reported_without_echoing_its_body(
    provider_server: tuple[str, FakeProvider], provider: FakeProvider
) -> None:
    """A failing endpoint may be an internal service: its reply is not echoed into the
    call's error text (issue 17 #2), only the status it answered."""
    provider.mode = "500-text"
    with pytest.raises(UpstreamError) as caught:
        list(get_engine(openai_config(provider_server[0])).transcribe(np.zeros(1600, "float32")))
    assert "500" in caught.value.message and "upstream exploded" not in caught.value.message


def test_openai_slow_endpoint_times_out(
    provider_server: tuple[str, FakeProvider], provider: FakeProvider
) -> None:
    provider.mode, provider.slow_s = "slow", 3.0
    engine = get_engine(openai_config(provider_server[0], timeout_s=0.5))
    with pytest.raises(UpstreamError) as caught:
        list(engine.transcribe(np.zeros(1600, dtype=np.float32)))
    assert caught.value.message == "Speech endpoint timed out after 0.5 s"
    assert API_KEY not in caught.value.message


def test_openai_unreachable_endpoint_is_upstream_error() -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    engine = get_engine(openai_config(f"http://127.0.0.1:{port}/v1", timeout_s=2))
    with pytest.raises(UpstreamError) as caught:
        list(engine.transcribe(np.zeros(1600, dtype=np.float32)))
    assert "reach" in caught.value.message
    assert API_KEY not in caught.value.message


def test_openai_engine_needs_a_base_url() -> None:
    with pytest.raises(UpstreamError) as caught:
        get_engine(SpeechConfig(engine="openai", api_key=API_KEY))
    assert caught.value.status == 400
    assert API_KEY not in caught.value.message


def test_wav_encoding_round_trips() -> None:
    audio = (0.5 * np.sin(np.linspace(0, 200, 16000))).astype(np.float32)
    with wave.open(io.BytesIO(encode_wav(audio))) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 16000)
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    assert np.abs(pcm / 32767.0 - audio).max() < 1e-4


def test_batched_segments_are_cut_where_the_words_pause() -> None:
    """The batched decode returns whole VAD chunks: one segment is cut into turns at
    pauses of BATCHED_SPLIT_GAP_S or more between words (the other party's reply)."""
    from types import SimpleNamespace as NS

    from callscribe.speech.engines import BATCHED_SPLIT_GAP_S, _segments

    def word(a: float, b: float, w: str) -> NS:
        return NS(start=a, end=b, word=w)

    chunk = NS(
        start=0.0,
        end=9.0,
        text=" Hello there. Yes, the order.",
        words=[
            word(0.2, 0.5, " Hello"),
            word(0.5, 0.9, " there."),
            word(0.9 + BATCHED_SPLIT_GAP_S + 1.0, 3.0, " Yes,"),
            word(3.1, 3.3, " the"),
            word(3.3 + BATCHED_SPLIT_GAP_S - 0.1, 4.0, " order."),
        ],
    )
    cut = list(_segments([chunk], split_gap_s=BATCHED_SPLIT_GAP_S))
    assert [(a, b, t) for a, b, t, _w in cut] == [
        (0.2, 0.9, "Hello there."),
        (2.5, 4.0, "Yes, the order."),
    ]
    assert [len(w) for *_x, w in cut] == [2, 3]
    (whole,) = list(_segments([chunk]))  # the sequential decode's segments stay whole
    assert whole[2] == "Hello there. Yes, the order." and len(whole[3]) == 5

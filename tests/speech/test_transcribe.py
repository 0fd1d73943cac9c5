"""transcribe_file with the real bundled tiny.en model on real recordings."""

from __future__ import annotations

import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from callscribe.errors import CallscribeError, UnsupportedMediaType
from callscribe.settings import Settings
from callscribe.speech.engines import (
    TEMPERATURE_SEED,
    FasterWhisperEngine,
    load_whisper_model,
    resolve_model,
)
from callscribe.speech.service import (
    Segment,
    SpeechConfig,
    get_engine,
    iter_audio_windows,
    speech_config_from_settings,
    transcribe_file,
)

from .conftest import AUDIO_DIR, REFERENCES, encode_audio, word_error_rate

pytestmark = pytest.mark.slow


def test_identical_stereo_channels_are_transcribed_once_as_mono(
    whisper_engine: FasterWhisperEngine,
) -> None:
    """jfk.flac carries the same speech on both channels: one pass, channel None."""
    segments = list(transcribe_file(AUDIO_DIR / "jfk.flac", whisper_engine))

    assert segments
    assert {s.channel for s in segments} == {None}
    text = " ".join(s.text for s in segments)
    assert word_error_rate(REFERENCES["jfk.flac"]["text"], text) < 0.2
    assert segments[0].start_s < 1.0
    assert segments[-1].end_s <= 11.0 + 1e-6


def test_two_party_stereo_is_transcribed_per_channel(
    whisper_engine: FasterWhisperEngine,
) -> None:
    refs = REFERENCES["stereo_diarization.wav"]
    segments = list(transcribe_file(AUDIO_DIR / "stereo_diarization.wav", whisper_engine))

    left = " ".join(s.text for s in segments if s.channel == 0)
    right = " ".join(s.text for s in segments if s.channel == 1)
    assert {s.channel for s in segments} == {0, 1}
    assert word_error_rate(refs["left_channel"], left) < 0.2
    assert word_error_rate(refs["right_channel"], right) < 0.2


def test_split_stereo_off_transcribes_the_mix(whisper_engine: FasterWhisperEngine) -> None:
    segments = list(
        transcribe_file(AUDIO_DIR / "stereo_diarization.wav", whisper_engine, split_stereo=False)
    )
    assert segments
    assert {s.channel for s in segments} == {None}


def test_small_windows_give_ordered_absolute_times_and_full_progress(
    whisper_engine: FasterWhisperEngine,
) -> None:
    """GIVEN the 30 s mono call cut into 2 s windows
    THEN segments come with absolute times, in order, inside the recording, and
    progress climbs to exactly 1.0 without going backwards."""
    progress: list[float] = []
    segments = list(
        transcribe_file(
            AUDIO_DIR / "sample.wav", whisper_engine, window_s=2.0, on_progress=progress.append
        )
    )

    assert len(segments) >= 5
    assert all(isinstance(s, Segment) and s.channel is None and s.text for s in segments)
    starts = [s.start_s for s in segments]
    assert starts == sorted(starts)
    assert all(0.0 <= s.start_s <= s.end_s <= 30.0 + 1e-6 for s in segments)
    assert segments[-1].end_s > 20.0  # speech late in the call was reached, not dropped
    assert progress[-1] == 1.0
    assert progress == sorted(progress)
    assert len(progress) >= 15  # at least once per window


def test_windows_match_default_window_transcript(whisper_engine: FasterWhisperEngine) -> None:
    """Cutting at quiet points keeps the 2 s-window transcript close to the 600 s one."""
    whole = " ".join(s.text for s in transcribe_file(AUDIO_DIR / "sample.wav", whisper_engine))
    windowed = " ".join(
        s.text for s in transcribe_file(AUDIO_DIR / "sample.wav", whisper_engine, window_s=5.0)
    )
    assert word_error_rate(whole, windowed) < 0.35


def test_segments_are_yielded_before_the_file_is_finished(
    whisper_engine: FasterWhisperEngine,
) -> None:
    """The first segment arrives while later windows are still undecoded."""
    progress: list[float] = []
    segments = transcribe_file(
        AUDIO_DIR / "sample.wav", whisper_engine, window_s=5.0, on_progress=progress.append
    )
    first = next(segments)
    assert first.end_s <= 12.0  # speech in sample.wav starts ~6 s in
    assert progress and progress[-1] < 0.5
    segments.close()


def test_windows_cover_the_file_exactly_once() -> None:
    windows = list(iter_audio_windows(AUDIO_DIR / "sample.wav", 2.0))
    total = sum(w.shape[1] for _, w in windows)
    assert total == 30 * 16000
    offset = 0.0
    for start, window in windows:
        assert start == pytest.approx(offset)
        assert window.dtype == np.float32 and window.shape[0] == 1
        assert window.shape[1] <= 3 * 16000
        offset += window.shape[1] / 16000


def test_decoding_a_long_stereo_call_keeps_memory_flat(tmp_path: Path) -> None:
    """GIVEN a 20-minute stereo recording (two parties, 76 MB as float32)
    WHEN it is decoded in 60 s windows
    THEN peak memory stays around one window, not the whole file."""
    import av

    path = tmp_path / "long.flac"
    minutes = 20
    with av.open(str(path), "w", format="flac") as out:
        stream = out.add_stream("flac", rate=16000, layout="stereo")
        rng = np.random.default_rng(1)
        for _ in range(minutes * 6):  # 10 s frames of low noise, different per side
            chunk = (rng.standard_normal((2, 160000)) * 0.01).astype(np.float32)
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
            frame.sample_rate = 16000
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)

    tracemalloc.start()
    try:
        seen = 0
        for _, window in iter_audio_windows(path, 60.0):
            assert window.shape[0] == 2
            seen += window.shape[1]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == minutes * 60 * 16000
    whole_file = minutes * 60 * 16000 * 2 * 4
    assert peak < whole_file / 5  # one 60 s window is 7.7 MB; the file is 154 MB


def test_other_containers_transcribe_like_the_original(
    tmp_path: Path, whisper_engine: FasterWhisperEngine, jfk_mono: np.ndarray
) -> None:
    """Browser (webm/opus) and phone (m4a/aac) uploads decode to the same words."""
    reference = REFERENCES["jfk.flac"]["text"]
    for name, muxer, codec, rate in [
        ("webm", "webm", "libopus", 48000),
        ("m4a", "ipod", "aac", 44100),
    ]:
        path = encode_audio(jfk_mono, tmp_path / f"jfk.{name}", muxer, codec, rate, {})
        text = " ".join(s.text for s in transcribe_file(path, whisper_engine))
        assert word_error_rate(reference, text) < 0.2, (name, text)


def test_undecodable_file_raises_typed_error(
    tmp_path: Path, whisper_engine: FasterWhisperEngine
) -> None:
    path = tmp_path / "call.wav"
    path.write_bytes(b"this is not a recording" * 10)
    with pytest.raises(UnsupportedMediaType) as caught:
        list(transcribe_file(path, whisper_engine))
    assert "audio" in caught.value.message.lower()


def test_bundled_model_is_loaded_once_and_shared_across_threads() -> None:
    """Queue threads asking at the same time get the same model object."""
    results: list[object] = []

    def load() -> None:
        results.append(load_whisper_model("tiny.en", "cpu", "int8", 0))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4
    assert all(r is results[0] for r in results)
    assert load_whisper_model("bundled") is results[0]
    assert Path(resolve_model("tiny.en"), "model.bin").is_file()


def test_engine_shared_by_threads_transcribes_concurrently(
    whisper_engine: FasterWhisperEngine, jfk_mono: np.ndarray
) -> None:
    reference = REFERENCES["jfk.flac"]["text"]
    texts: list[str] = []

    def work() -> None:
        texts.append(" ".join(t for _, _, t in whisper_engine.transcribe(jfk_mono)))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(texts) == 2
    assert all(word_error_rate(reference, t) < 0.2 for t in texts)


def test_get_engine_builds_faster_whisper_from_settings() -> None:
    config = speech_config_from_settings(Settings(), beam_size=1)
    assert config == SpeechConfig(beam_size=1, timeout_s=Settings().AI_TIMEOUT_S)
    engine = get_engine(config)
    assert engine.name == "faster-whisper"


def test_unknown_engine_is_a_typed_error() -> None:
    with pytest.raises(CallscribeError) as caught:
        get_engine(SpeechConfig(engine="telepathy"))
    assert caught.value.code == "speech_engine_unknown"
    assert "faster-whisper" in caught.value.message


def test_config_repr_hides_the_api_key() -> None:
    config = SpeechConfig(engine="openai", api_key="sk-secret-123")
    assert "sk-secret-123" not in repr(config)


@pytest.mark.parametrize("temperatures", [(0.0,), (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)])
def test_the_same_recording_decodes_to_the_same_segments_every_run(
    temperatures: tuple[float, ...],
) -> None:
    """GIVEN the default schedule (beam search only) or a fallback schedule (seeded
    sampling) WHEN one recording is transcribed three times THEN every run gives the
    same segments, and the engine says how it decoded them."""
    engine = FasterWhisperEngine(SpeechConfig(temperatures=temperatures))
    runs = [
        [(s.start_s, s.end_s, s.text) for s in transcribe_file(AUDIO_DIR / "sample.wav", engine)]
        for _ in range(3)
    ]
    assert runs[0] and runs[0] == runs[1] == runs[2]
    assert "New Jersey" in " ".join(text for _, _, text in runs[0])
    decoding = engine.decoding
    assert decoding["temperatures"] == list(temperatures)
    assert decoding["seed"] == (None if temperatures == (0.0,) else TEMPERATURE_SEED)
    assert decoding["compute_type"] and decoding["beam_size"] == 5


def test_default_settings_decode_deterministically() -> None:
    assert speech_config_from_settings(Settings()).temperatures == (0.0,)

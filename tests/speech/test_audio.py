"""speech.audio on real recordings: decoding to 16 kHz mono, mixing two tracks into one
stereo WAV (agent left, customer right), WAV writing."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import pytest

from callscribe.errors import BadRequest
from callscribe.speech.audio import decode_mono, mix_stereo, mix_tracks_to_wav, write_wav

from .conftest import AUDIO_DIR


def _split_stereo(tmp_path: Path) -> tuple[np.ndarray, Path, Path]:
    with wave.open(str(AUDIO_DIR / "stereo_diarization.wav")) as w:
        rate = w.getframerate()
        frames = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2)
    paths = []
    for channel in (0, 1):
        path = tmp_path / f"track{channel}.wav"
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes(frames[:, channel].copy().tobytes())
        paths.append(path)
    assert rate == 16000, "the reference file is 16 kHz: no resampling blurs the check"
    return frames, paths[0], paths[1]


def test_decode_mono_resamples_a_compressed_file_to_16k() -> None:
    samples = decode_mono(AUDIO_DIR / "jfk.flac")
    assert samples.dtype == np.int16
    assert 10.5 < len(samples) / 16000 < 11.5  # jfk.flac is 11 s
    assert np.abs(samples).max() > 1000  # speech, not silence


def test_two_tracks_mix_into_one_stereo_wav_agent_left(tmp_path: Path) -> None:
    frames, left, right = _split_stereo(tmp_path)
    out = io.BytesIO()
    mix_tracks_to_wav(left, right, out)
    with wave.open(io.BytesIO(out.getvalue())) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, 16000)
        mixed = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    assert np.array_equal(mixed, frames)


def test_the_shorter_track_is_padded_with_silence() -> None:
    stereo = mix_stereo(np.ones(5, np.int16), np.full(2, 7, np.int16))
    assert stereo.tolist() == [[1, 7], [1, 7], [1, 0], [1, 0], [1, 0]]
    with pytest.raises(BadRequest):
        mix_stereo(np.zeros(0, np.int16), np.zeros(0, np.int16))


def test_a_track_that_is_not_audio_is_a_bad_request(tmp_path: Path) -> None:
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"this is not audio at all" * 100)
    with pytest.raises(BadRequest) as err:
        decode_mono(junk)
    assert "not decodable" in err.value.message


def test_write_wav_streams_header_then_data() -> None:
    writes: list[bytes] = []

    class Sink:
        def write(self, chunk: bytes) -> None:
            writes.append(chunk)

    pcm = (np.arange(16000 * 70) % 3000).astype(np.int16)  # > 1 MiB of data: several chunks
    write_wav(Sink(), pcm)
    assert len(writes) > 2 and len(writes[0]) == 44
    with wave.open(io.BytesIO(b"".join(writes))) as wav:
        assert wav.getnchannels() == 1 and wav.getnframes() == len(pcm)
        assert np.array_equal(np.frombuffer(wav.readframes(len(pcm)), "<i2"), pcm)

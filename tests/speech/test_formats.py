"""Recognising and probing audio: real files written by real encoders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from callscribe.errors import CallscribeError, UnsupportedMediaType
from callscribe.speech.service import probe_audio, sniff_audio_format

from .conftest import AUDIO_DIR, FORMAT_SPECS, encode_audio


@pytest.fixture(scope="module")
def encoded_files(tmp_path_factory: pytest.TempPathFactory, jfk_mono: np.ndarray) -> dict:
    """Three seconds of jfk encoded into every format we accept."""
    folder = tmp_path_factory.mktemp("formats")
    clip = jfk_mono[: 3 * 16000]
    return {
        name: encode_audio(clip, folder / f"jfk.{name}", muxer, codec, rate, options)
        for name, muxer, codec, rate, options in FORMAT_SPECS
    }


@pytest.mark.parametrize("name", [spec[0] for spec in FORMAT_SPECS])
def test_every_accepted_format_is_sniffed_and_probed(encoded_files: dict, name: str) -> None:
    path: Path = encoded_files[name]
    assert sniff_audio_format(path.read_bytes()[:64]) == name

    info = probe_audio(path)
    assert info.format == name
    assert info.channels == 1
    assert info.sample_rate in (16000, 44100, 48000)
    # Encoder priming and frame padding add a little; raw ADTS has no index, so FFmpeg
    # estimates its duration from the bitrate.
    low = 2.7 if name == "aac" else 2.95
    assert low <= info.duration_s <= 3.3


def test_mp3_without_id3_tag_is_recognised_by_frame_sync(
    tmp_path: Path, jfk_mono: np.ndarray
) -> None:
    path = encode_audio(
        jfk_mono[:16000],
        tmp_path / "bare.mp3",
        "mp3",
        "libmp3lame",
        44100,
        {"id3v2_version": "0"},
    )
    head = path.read_bytes()[:64]
    assert head[:3] != b"ID3"
    assert sniff_audio_format(head) == "mp3"
    assert probe_audio(path).format == "mp3"


def test_repository_recordings_are_probed() -> None:
    jfk = probe_audio(AUDIO_DIR / "jfk.flac")
    assert (jfk.format, jfk.channels, jfk.sample_rate) == ("flac", 2, 44100)
    assert jfk.duration_s == pytest.approx(11.0, abs=0.01)

    stereo = probe_audio(AUDIO_DIR / "stereo_diarization.wav")
    assert (stereo.format, stereo.channels) == ("wav", 2)
    assert stereo.duration_s == pytest.approx(5.0, abs=0.01)

    call = probe_audio(AUDIO_DIR / "sample.wav")
    assert (call.format, call.channels) == ("wav", 1)
    assert call.duration_s == pytest.approx(30.0, abs=0.01)


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"Hello, this is a plain text file and certainly not audio.\n" * 2,
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 50,
        b"%PDF-1.7\n" + b"\x00" * 60,
        b"PK\x03\x04" + b"\x00" * 60,
        b"RIFF\x24\x00\x00\x00AVI LIST" + b"\x00" * 50,  # RIFF, but video not WAVE
        b"\xff\xff\xff\xff" + b"\x00" * 60,  # sync-like bytes with reserved values
    ],
    ids=["empty", "text", "png", "pdf", "zip", "riff-avi", "reserved-sync"],
)
def test_non_audio_is_not_sniffed(head: bytes) -> None:
    assert sniff_audio_format(head) is None


def test_text_file_is_refused_by_probe(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp3"  # the extension lies; the content decides
    path.write_text("Call notes: customer wants a refund.\n" * 20)
    with pytest.raises(UnsupportedMediaType) as caught:
        probe_audio(path)
    assert "audio" in caught.value.message
    assert caught.value.status == 415


def test_empty_file_is_refused_by_probe(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(UnsupportedMediaType):
        probe_audio(path)


@pytest.mark.parametrize("name", ["wav", "m4a", "flac", "ogg"])
def test_truncated_file_is_refused_by_probe(tmp_path: Path, encoded_files: dict, name: str) -> None:
    """GIVEN a real recording cut off inside its headers (an interrupted upload)
    THEN probing raises the typed error with a message, never a raw PyAV exception."""
    whole = encoded_files[name].read_bytes()
    path = tmp_path / f"cut.{name}"
    path.write_bytes(whole[:40])
    with pytest.raises(CallscribeError) as caught:
        probe_audio(path)
    assert isinstance(caught.value, UnsupportedMediaType)
    assert caught.value.message


def test_corrupt_audio_data_is_refused_by_probe(tmp_path: Path, encoded_files: dict) -> None:
    """A valid FLAC header followed by garbage instead of frames."""
    whole = encoded_files["flac"].read_bytes()
    rng = np.random.default_rng(0)
    path = tmp_path / "corrupt.flac"
    path.write_bytes(whole[:42] + rng.integers(0, 256, 4000, dtype=np.uint8).tobytes())
    with pytest.raises(UnsupportedMediaType) as caught:
        probe_audio(path)
    assert caught.value.code in ("audio_decode_failed", "unsupported_media_type")


def test_video_without_audio_track_is_refused(tmp_path: Path) -> None:
    import av

    path = tmp_path / "silent-film.mp4"
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for i in range(5):
            frame = av.VideoFrame.from_ndarray(
                np.full((64, 64, 3), i * 40, dtype=np.uint8), format="rgb24"
            )
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    assert sniff_audio_format(path.read_bytes()[:64]) == "mp4"  # the bytes look right...
    with pytest.raises(UnsupportedMediaType) as caught:  # ...but there is nothing to hear
        probe_audio(path)
    assert "no audio" in caught.value.message

"""Audio in and out of the speech pipeline's shape: decoding a track to 16 kHz mono PCM,
mixing two tracks into one stereo recording (channel 0 agent, channel 1 customer), and
writing PCM as WAV, whole in memory or streamed into a sink chunk by chunk."""

from __future__ import annotations

import io
import struct
import wave
from os import PathLike
from typing import Any, Protocol

import av
import av.error
import numpy as np

from callscribe.errors import BadRequest
from callscribe.speech.service import SAMPLE_RATE

CHUNK = 1024 * 1024


class Sink(Protocol):
    def write(self, chunk: bytes, /) -> Any: ...


def decode_mono(path: str | PathLike[str], sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A track as mono int16 samples at `sample_rate`; BadRequest if it is not audio."""
    chunks: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="s16", layout="mono", rate=sample_rate)
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except (av.error.FFmpegError, IndexError, ValueError) as exc:
        raise BadRequest(f"a track is not decodable audio ({type(exc).__name__})") from exc
    if not chunks:
        return np.zeros(0, dtype=np.int16)
    return np.concatenate(chunks).astype(np.int16)


def mix_stereo(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Two mono int16 tracks as one (n, 2) array, the shorter padded with silence."""
    length = max(len(left), len(right))
    if length == 0:
        raise BadRequest("both tracks are empty")
    stereo = np.zeros((length, 2), dtype="<i2")
    stereo[: len(left), 0] = left
    stereo[: len(right), 1] = right
    return stereo


def write_wav(sink: Sink, pcm: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """16-bit PCM WAV of `pcm` ((n,) mono or (n, channels) int16) into `sink`, in chunks."""
    channels = 1 if pcm.ndim == 1 else pcm.shape[1]
    data = np.ascontiguousarray(pcm, dtype="<i2").tobytes()
    block = 2 * channels
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE"
    header += b"fmt " + struct.pack(
        "<IHHIIHH", 16, 1, channels, sample_rate, sample_rate * block, block, 16
    )
    header += b"data" + struct.pack("<I", len(data))
    sink.write(header)
    for start in range(0, len(data), CHUNK):
        sink.write(data[start : start + CHUNK])


def mix_tracks_to_wav(
    agent: str | PathLike[str], customer: str | PathLike[str], sink: Sink
) -> None:
    """Decode both tracks and write them as one stereo WAV: channel 0 the agent (or bot),
    channel 1 the customer. Holds both decoded in memory (about 115 MB per track-hour)."""
    write_wav(sink, mix_stereo(decode_mono(agent), decode_mono(customer)))


def encode_wav(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """float32 samples in [-1, 1] as a 16-bit PCM mono WAV: every transcription API takes
    it, and it is half the size of float32."""
    pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
    return buf.getvalue()


def decode_pcm(path: str | PathLike[str]) -> tuple[np.ndarray, int]:
    """A recording as int16 samples (n, channels) at its own rate, every channel kept
    (up to two: a call's agent and customer); BadRequest if it is not audio."""
    chunks: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            rate = int(stream.rate or SAMPLE_RATE)
            layout = "stereo" if (stream.channels or 1) >= 2 else "mono"
            resampler = av.AudioResampler(format="s16", layout=layout, rate=rate)
            width = 2 if layout == "stereo" else 1
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1, width))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1, width))
    except (av.error.FFmpegError, IndexError, ValueError) as exc:
        raise BadRequest(f"the recording is not decodable audio ({type(exc).__name__})") from exc
    if not chunks:
        return np.zeros((0, 1), dtype=np.int16), rate
    return np.concatenate(chunks).astype(np.int16), rate

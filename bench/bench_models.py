"""Whisper models side by side: word error rate against the human references and speed,
for every model this install can load offline (tiny.en bundled; base and small from the
speech-base / speech-small extras), same files, same run, same decoding settings.

    PYTHONPATH=src python bench/bench_models.py [FILE ...] [--models tiny.en,base,small]

Files default to the recordings of ../shared/testdata/audio with a reference
(sample.stm; faster-whisper-references.json). Speed is audio seconds per wall second of
callscribe's transcribe_file (decode, channel split, VAD, beam search), best of 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))
DEFAULT_DIR = REPO.parent / "shared" / "testdata" / "audio"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files", nargs="*")
    parser.add_argument("--models", default="")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--language", default=None, help="e.g. en (default: detected)")
    args = parser.parse_args()
    os.environ.setdefault("CALLSCRIBE_DATA_DIR", tempfile.mkdtemp(prefix="cs-models-"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from bench_pipeline import reference, wer

    from callscribe.speech.engines import FasterWhisperEngine, installed_models
    from callscribe.speech.service import SpeechConfig, probe_audio, transcribe_file

    files = [Path(f) for f in args.files] or [
        DEFAULT_DIR / n for n in ("jfk.flac", "sample.wav", "stereo_diarization.wav")
    ]
    files = [f for f in files if reference(f)]
    models = [m for m in args.models.split(",") if m] or installed_models()
    print(f"{'model':10} {'file':26} {'audio s':>8} {'x real time':>12} {'WER':>7}")
    for model in models:
        started = time.perf_counter()
        engine = FasterWhisperEngine(SpeechConfig(model=model, language=args.language))
        loaded = time.perf_counter() - started
        total_audio = total_wall = 0.0
        errors, words = 0.0, 0
        for path in files:
            duration = probe_audio(path).duration_s
            best, text = float("inf"), ""
            for _ in range(args.repeat):
                t = time.perf_counter()
                segments = sorted(transcribe_file(path, engine), key=lambda s: s.start_s)
                best = min(best, time.perf_counter() - t)
                text = " ".join(s.text for s in segments)
            truth = reference(path) or ""
            rate = wer(text, truth)
            n = len(truth.split())
            errors, words = errors + rate * n, words + n
            total_audio, total_wall = total_audio + duration, total_wall + best
            print(f"{model:10} {path.name:26} {duration:8.1f} {duration / best:12.1f} {rate:7.1%}")
        print(
            f"{model:10} {'ALL (word-weighted WER)':26} {total_audio:8.1f} "
            f"{total_audio / total_wall:12.1f} {errors / max(words, 1):7.1%}   load {loaded:.1f} s"
        )


if __name__ == "__main__":
    main()

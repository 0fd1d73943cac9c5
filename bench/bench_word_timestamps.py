"""What word timestamps cost: FasterWhisperEngine bounds each turn by its first and
last word (issue 18: response times and overlaps only from real times), which adds
faster-whisper's word alignment pass. Prints audio seconds per wall second with and
without it, measured in the same run on the same files (the baseline is the run
without).

    python bench/bench_word_timestamps.py [FILE ...]   # default: tests/data/audio
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_speech_bare import BEAM_SIZE, _model  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT = [REPO / "tests/data/audio/sample.wav", REPO / "tests/data/audio/jfk.flac"]


def rate(path: Path, words: bool) -> tuple[float, float]:
    model = _model()
    started = time.perf_counter()
    segments, info = model.transcribe(
        str(path),
        beam_size=BEAM_SIZE,
        vad_filter=True,
        condition_on_previous_text=False,
        temperature=0.0,
        word_timestamps=words,
    )
    for _ in segments:
        pass
    return float(info.duration), time.perf_counter() - started


def main(argv: list[str]) -> None:
    files = [Path(a) for a in argv] or DEFAULT
    _model()  # the load is outside the timing
    for path in files:
        rate(path, False)  # warm up
        audio, bare = rate(path, False)
        _audio, worded = rate(path, True)
        print(
            f"{path.name}: {audio:.1f} s audio  segments only {audio / bare:.1f}x realtime"
            f" (baseline)  word timestamps {audio / worded:.1f}x realtime"
            f"  (+{(worded / bare - 1) * 100:.0f}% time)"
        )


if __name__ == "__main__":
    main(sys.argv[1:])

"""Pipeline speed against bare faster-whisper, same files, same model, same run.

    python bench/bench_pipeline.py [FILE ...] [--repeat N]   # default: ../shared/testdata/audio

For each recording:
- pipeline: callscribe's whole `pipeline.runner.process_call` (PyAV windowed decode,
  channel split, transcription, turns streamed into SQLite, local analyzer, minutes
  stored), timed from the call's claim to `completed`;
- bare (same work): faster-whisper's own decode plus `transcribe` on the same model and
  settings, on each channel when the pipeline split the call, else on the mix;
- bare (mix): one faster-whisper pass over the file as given (what a naive transcriber
  does; a two-party stereo call then counts half the speech work).
Prints audio seconds per wall second for each, and pipeline / bare-same-work.
Best of --repeat runs per side, sides interleaved so machine noise hits both.

With --batch-size N the pipeline also runs with faster-whisper's batched pipeline
(CALLSCRIBE_WHISPER_BATCH_SIZE=N) on the same files in the same run, and for files
with a human reference (sample.stm, faster-whisper-references.json) the word error
rate of each pipeline's transcript is printed beside its speed.
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
SUFFIXES = {".wav", ".flac", ".mp3", ".m4a", ".ogg", ".opus", ".webm"}


def setup_install() -> None:
    data = Path(tempfile.mkdtemp(prefix="cs-bench-"))
    os.environ["CALLSCRIBE_DATA_DIR"] = str(data)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from callscribe.db import migrate
    from callscribe.worker import load_tasks

    migrate()
    load_tasks()  # the pipeline's task is enqueued by name: this process must know it


def pipeline_once(path: Path, batch_size: int = 0) -> tuple[float, float, bool]:
    """(audio s, wall s, split) for one full pipeline run of a fresh call."""
    from callscribe.settings import reset_settings

    os.environ["CALLSCRIBE_WHISPER_BATCH_SIZE"] = str(batch_size)
    reset_settings()
    from sqlalchemy import select

    from callscribe.accounts import service as accounts
    from callscribe.auth.permissions import Role
    from callscribe.auth.principal import Principal
    from callscribe.calls.models import Engagement, Turn
    from callscribe.db import session_scope
    from callscribe.ingest import service as ingest
    from callscribe.ingest.schemas import CallFields
    from callscribe.pipeline.runner import process_call
    from callscribe.storage.staging import stage_file_from_path

    with session_scope() as s:
        company = accounts.create_company(s, "bench")
        staged = stage_file_from_path(path)
        call = ingest.add_recording(
            s, Principal(company.id, role=Role.ADMIN), staged, CallFields()
        ).engagement
        call_id, duration = call.id, call.duration_s or 0.0
    started = time.perf_counter()
    status = process_call(call_id)
    wall = time.perf_counter() - started
    with session_scope() as s:
        assert status == "completed", s.get(Engagement, call_id).error  # type: ignore[union-attr]
        turns = list(
            s.scalars(select(Turn).where(Turn.engagement_id == call_id).order_by(Turn.start_ms))
        )
        split = any(t.channel is not None for t in turns)
        LAST_TEXT[path.name] = " ".join(t.text for t in turns)
    return duration, wall, split


LAST_TEXT: dict[str, str] = {}  # file name -> the last pipeline run's transcript


def reference(path: Path) -> str | None:
    """The human transcript of a file, where the test data has one."""
    import json

    stm = path.with_suffix(".stm")
    if stm.exists():
        lines = [ln.split(None, 5) for ln in stm.read_text().splitlines() if ln.strip()]
        return " ".join(parts[5] for parts in lines if len(parts) == 6)
    refs = path.parent / "faster-whisper-references.json"
    if refs.exists():
        entry = json.loads(refs.read_text()).get(path.name)
        if isinstance(entry, dict):
            if "text" in entry:
                return str(entry["text"])
            if "left_channel" in entry:
                return f"{entry['left_channel']} {entry['right_channel']}"
    return None


def wer(hypothesis: str, truth: str) -> float:
    """Word error rate (lower-cased, punctuation dropped), as a share."""
    import re

    def words(t: str) -> list[str]:
        return re.sub(r"[^a-z0-9' ]+", " ", t.lower()).split()

    h, r = words(hypothesis), words(truth)
    row = list(range(len(h) + 1))
    for i, rw in enumerate(r, 1):
        prev, row[0] = row[0], i
        for j, hw in enumerate(h, 1):
            cur = min(row[j] + 1, row[j - 1] + 1, prev + (rw != hw))
            prev, row[j] = row[j], cur
    return row[len(h)] / max(len(r), 1)


def bare_same_work(path: Path, split: bool) -> float:
    from bench_speech_bare import BEAM_SIZE, _model
    from faster_whisper.audio import decode_audio

    model = _model()
    started = time.perf_counter()
    channels = decode_audio(str(path), split_stereo=split)
    for audio in channels if split else [channels]:
        segments, _info = model.transcribe(
            audio,
            beam_size=BEAM_SIZE,
            vad_filter=True,
            condition_on_previous_text=False,
            temperature=0.0,  # the pipeline's default schedule (deterministic)
        )
        for _ in segments:
            pass
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files", nargs="*")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=0)
    args = parser.parse_args()
    files = [Path(f) for f in args.files] or sorted(
        p for p in DEFAULT_DIR.rglob("*") if p.suffix.lower() in SUFFIXES
    )
    setup_install()
    from bench_speech_bare import bare_rate

    pipeline_once(files[0])  # load the model and warm caches outside the timings
    if args.batch_size:
        pipeline_once(files[0], args.batch_size)
    rows = []
    tot = {"audio": 0.0, "pipe": 0.0, "same": 0.0, "mix": 0.0, "batched": 0.0}
    errors: list[tuple[str, float, float | None]] = []
    for path in files:
        best_pipe = best_same = best_mix = best_batched = float("inf")
        duration, split = 0.0, False
        texts: dict[str, str] = {}
        for _ in range(args.repeat):
            duration, wall, split = pipeline_once(path)
            best_pipe = min(best_pipe, wall)
            texts["seq"] = LAST_TEXT[path.name]
            if args.batch_size:
                best_batched = min(best_batched, pipeline_once(path, args.batch_size)[1])
                texts["batched"] = LAST_TEXT[path.name]
            best_same = min(best_same, bare_same_work(path, split))
            best_mix = min(best_mix, bare_rate(path)[1])
        rows.append((path.name, duration, split, best_pipe, best_same, best_mix, best_batched))
        tot["audio"] += duration
        tot["pipe"] += best_pipe
        tot["same"] += best_same
        tot["mix"] += best_mix
        tot["batched"] += best_batched if args.batch_size else 0.0
        truth = reference(path)
        if truth:
            errors.append(
                (
                    path.name,
                    wer(texts["seq"], truth),
                    wer(texts["batched"], truth) if "batched" in texts else None,
                )
            )

    print(
        f"{'file':28} {'audio s':>8} {'split':>5} {'pipeline x':>11} {'bare(same) x':>13} {'bare(mix) x':>12} {'pipe/bare':>10}"
    )
    for name, dur, split, pipe, same, mix, _batched in rows:
        print(
            f"{name:28} {dur:8.1f} {('yes' if split else 'no'):>5} {dur / pipe:11.1f} "
            f"{dur / same:13.1f} {dur / mix:12.1f} {same / pipe:10.2f}"
        )
    a = tot["audio"]
    print(
        f"{'ALL':28} {a:8.1f} {'':>5} {a / tot['pipe']:11.1f} {a / tot['same']:13.1f} "
        f"{a / tot['mix']:12.1f} {tot['same'] / tot['pipe']:10.2f}"
    )
    print("x = audio seconds per wall second; pipe/bare = pipeline speed / bare(same work) speed")
    if args.batch_size:
        print(f"\nbatched pipeline (batch size {args.batch_size}), same files, same run:")
        for name, dur, _split, _pipe, same, _mix, batched in rows:
            print(f"{name:28} {dur / batched:11.1f} x   batched/bare {same / batched:5.2f}")
        print(
            f"{'ALL':28} {a / tot['batched']:11.1f} x   batched/bare "
            f"{tot['same'] / tot['batched']:5.2f}   (sequential pipeline/bare "
            f"{tot['same'] / tot['pipe']:.2f})"
        )
    if errors:
        print("\nWER against the human references (lower is better):")
        for name, seq, batched in errors:
            extra = f"   batched {batched:6.1%}" if batched is not None else ""
            print(f"{name:28} sequential {seq:6.1%}{extra}")


if __name__ == "__main__":
    main()

"""Peak memory of the whole pipeline on a long stereo call.

    python bench/bench_memory.py [--minutes 120] [--source ../shared/testdata/audio/spokenwoz/MUL1011.opus]

Builds a stereo recording of the given length by repeating a real two-party phone call
(SpokenWOZ MUL1011: agent and customer on separate channels, 8 kHz), stores it as a
call in a fresh SQLite install and runs `process_call` in a child process. Prints the
child's peak RSS (ru_maxrss), its RSS sampled every second (so a leak shows as growth),
wall time and the audio/wall ratio.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import wave
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO.parent / "shared" / "testdata" / "audio" / "spokenwoz" / "MUL1011.opus"


def build_recording(source: Path, minutes: float, out: Path) -> float:
    import av

    rate = 8000
    resampler = av.AudioResampler(format="s16", layout="stereo", rate=rate)
    chunks = []
    with av.open(str(source)) as container:
        for frame in container.decode(audio=0):
            for f in resampler.resample(frame):
                chunks.append(f.to_ndarray().reshape(-1, 2))
    pcm = np.concatenate(chunks)
    target = int(minutes * 60 * rate)
    with wave.open(str(out), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        written = 0
        while written < target:
            piece = pcm[: target - written]
            w.writeframes(piece.tobytes())
            written += len(piece)
    return target / rate


CHILD = r"""
import os, sys, time
sys.path.insert(0, os.path.join(sys.argv[1], "src"))
from callscribe.db import migrate, session_scope
from callscribe.accounts import service as accounts
from callscribe.auth.permissions import Role
from callscribe.auth.principal import Principal
from callscribe.storage.staging import stage_file_from_path
from callscribe.ingest import service as ingest
from callscribe.ingest.schemas import CallFields
from callscribe.calls.models import Engagement
from callscribe.pipeline.runner import process_call
from callscribe.worker import load_tasks
migrate()
load_tasks()
with session_scope() as s:
    company = accounts.create_company(s, "bench")
    staged = stage_file_from_path(__import__("pathlib").Path(sys.argv[2]))
    call_id = ingest.add_recording(s, Principal(company.id, role=Role.ADMIN), staged, CallFields()).engagement.id
t = time.perf_counter()
status = process_call(call_id)
with session_scope() as s:
    c = s.get(Engagement, call_id)
    print(f"status={status} error={c.error} turns_ms_end={c.processing_time_ms}", flush=True)
print(f"wall_s={time.perf_counter() - t:.1f}", flush=True)
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=120)
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cs-bench-mem-"))
    audio = work / "long-call.wav"
    seconds = build_recording(args.source, args.minutes, audio)
    print(f"recording: {seconds / 60:.0f} min stereo 8 kHz, {audio.stat().st_size / 1e6:.0f} MB")
    env = {**os.environ, "CALLSCRIBE_DATA_DIR": str(work / "data"), "HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(REPO), str(audio)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    samples: list[tuple[float, int]] = []

    def sample() -> None:
        import psutil

        proc = psutil.Process(child.pid)
        while child.poll() is None:
            try:
                samples.append((time.perf_counter() - started, proc.memory_info().rss))
            except psutil.Error:
                break
            time.sleep(1)

    threading.Thread(target=sample, daemon=True).start()
    out, _ = child.communicate()
    wall = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(out.strip())
    print(f"peak RSS: {peak_kb / 1024:.0f} MB  (target < 1536 MB)")
    if samples:
        n = len(samples)
        marks = [samples[int(i * (n - 1) / 4)] for i in range(5)]
        print("RSS over time: " + ", ".join(f"{t / 60:.1f} min {r / 1e6:.0f} MB" for t, r in marks))
    print(
        f"wall: {wall / 60:.1f} min for {seconds / 60:.0f} min of stereo audio ({seconds / wall:.1f}x real time)"
    )


if __name__ == "__main__":
    main()

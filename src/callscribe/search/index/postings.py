"""The embedded keyword arm's inverted index: FTS5's BM25 computed with NumPy.

FTS5's `bm25()` scores every row an any-of-the-words query matches before the LIMIT
(at 1M turns a question's common words match a third of them: over a second). Here
the same score is summed term by term over compact postings (per term: row positions
int32 and term frequencies uint16, CSR) into a dense score array, in the order and
with the arithmetic of FTS5's `fts5Bm25Function` (idf = log((N - n + 0.5) / (n + 0.5)),
1e-6 when not positive; tf (k1 + 1) / (tf + k1 (1 - b + b D / avgdl)); N, n and avgdl
over every row of `search_fts`, all companies, as FTS5's), so scores and order are
FTS5's (bench_search_scale.py asserts it on every question).

One index per process over the whole FTS table (its statistics are global), built from
the table's text with search.tokenize (FTS5's unicode61, tests/search/test_tokenize.py)
and valid while FTS5's structure and averages records are unchanged (every write
changes them): a query on a changed table is answered by FTS5 itself while the index
is rebuilt (in the query for a small table, in a background thread for a large one, at
most one at a time and not more often than REBUILD_INTERVAL_S).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from array import array
from collections import Counter
from dataclasses import dataclass

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from callscribe.search.index.base import BM25_B, BM25_K1
from callscribe.search.tokenize import tokenize

log = logging.getLogger(__name__)

# up to this many rows the query that finds it stale rebuilds it (~0.1 s; 1M rows take
# ~50 s on a loaded 2-core machine, bench_search_scale.py), beyond in a thread
SYNC_BUILD_ROWS = 5_000
# between background rebuilds, and at least BUILD_DUTY x the last build's time (a busy
# writer changes the table all the time: rebuilding costs at most 1 / BUILD_DUTY of a core)
REBUILD_INTERVAL_S = 30.0
BUILD_DUTY = 4
MAX_TF = 65535

_KEY = text("SELECT id, block FROM search_fts_data WHERE id IN (1, 10) ORDER BY id")


@dataclass
class Postings:
    key: tuple[bytes, ...]  # FTS5's averages and structure records when built
    rowids: np.ndarray  # int64, the FTS rowid (turn id) of each row position
    doc_len: np.ndarray  # float64 tokens per row (FTS5's docsize)
    avgdl: float
    terms: dict[str, int]
    offsets: np.ndarray  # int64, postings of term i: [offsets[i], offsets[i + 1])
    rows: np.ndarray  # int32 row positions
    tfs: np.ndarray  # uint16

    @property
    def n_rows(self) -> int:
        return len(self.rowids)

    def scores(self, terms: list[str]) -> np.ndarray:
        """BM25 of every row for the any-of `terms` query (0 where none matches), as
        FTS5's bm25() (positive here: higher is better)."""
        out = np.zeros(self.n_rows, dtype=np.float64)
        n = float(self.n_rows)
        for term in terms:
            i = self.terms.get(term)
            if i is None:
                continue
            lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
            rows = self.rows[lo:hi]
            tf = self.tfs[lo:hi].astype(np.float64)
            n_hit = float(hi - lo)
            idf = math.log((n - n_hit + 0.5) / (n_hit + 0.5))
            if idf <= 0.0:
                idf = 1e-6
            num = tf * (BM25_K1 + 1.0)
            denom = tf + BM25_K1 * (1 - BM25_B + BM25_B * self.doc_len[rows] / self.avgdl)
            # a row holds a term once in the postings: no two updates of one row here
            out[rows] += idf * (num / denom)
        return out

    def best(self, scores: np.ndarray, window: int) -> list[tuple[int, float]]:
        """(turn id, score) of the `window` best matching rows, ties by turn id."""
        matched = np.flatnonzero(scores > 0)
        if len(matched) > window:
            part = np.argpartition(-scores[matched], window - 1)[:window]
            # the cut may fall inside a run of equal scores: keep every row tied with it
            edge = scores[matched[part]].min()
            matched = matched[scores[matched] >= edge]
        order = np.lexsort((self.rowids[matched], -scores[matched]))[:window]
        picked = matched[order]
        pairs = zip(self.rowids[picked], scores[picked], strict=True)
        return [(int(t), float(s)) for t, s in pairs]


def fts_key(session: Session) -> tuple[bytes, ...]:
    return tuple(bytes(block) for _id, block in session.execute(_KEY))


def build(session: Session) -> Postings:
    """Read every row of search_fts and index it."""
    key = fts_key(session)
    rowids = array("q")
    lens = array("l")
    term_of = array("i")  # int32: 3 x 4 bytes a posting while building
    row_of = array("i")
    tf_of = array("i")
    terms: dict[str, int] = {}
    for rowid, body in session.execute(text("SELECT rowid, text FROM search_fts")):
        tokens = tokenize(body or "")
        r = len(rowids)
        rowids.append(int(rowid))
        lens.append(len(tokens))
        for term, tf in Counter(tokens).items():
            term_of.append(terms.setdefault(term, len(terms)))
            row_of.append(r)
            tf_of.append(min(tf, MAX_TF))
    t_arr = np.frombuffer(term_of, dtype=np.int32) if term_of else np.zeros(0, np.int32)
    order = np.argsort(t_arr, kind="stable")  # by term, rows ascending within a term
    counts = np.bincount(t_arr, minlength=len(terms))
    offsets = np.zeros(len(terms) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    doc_len = np.frombuffer(lens, dtype=np.int64).astype(np.float64) if lens else np.zeros(0)
    n = len(rowids)
    return Postings(
        key=key,
        rowids=np.frombuffer(rowids, dtype=np.int64).copy() if n else np.zeros(0, np.int64),
        doc_len=doc_len,
        avgdl=float(doc_len.sum()) / n if n else 1.0,
        terms=terms,
        offsets=offsets,
        rows=np.frombuffer(row_of, dtype=np.int32)[order] if row_of else np.zeros(0, np.int32),
        tfs=np.frombuffer(tf_of, dtype=np.int32)[order].astype(np.uint16)
        if tf_of
        else np.zeros(0, np.uint16),
    )


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.postings: dict[str, Postings] = {}  # by database URL
        self.building: set[str] = set()
        self.last_build: dict[str, float] = {}  # monotonic end of the last build
        self.build_seconds: dict[str, float] = {}


_state = _State()


def current(session: Session) -> Postings | None:
    """The process's index of the session's database if it is up to date with FTS5, else
    None (the caller asks FTS5), rebuilding it here (small tables) or in a thread."""
    url = str(session.get_bind().engine.url)
    key = fts_key(session)
    with _state.lock:
        have = _state.postings.get(url)
        if have is not None and have.key == key:
            return have
        if url in _state.building:
            return None
        pause = max(REBUILD_INTERVAL_S, BUILD_DUTY * _state.build_seconds.get(url, 0.0))
        recent = time.monotonic() - _state.last_build.get(url, -1e9) < pause
    if have is not None:  # its size tells the way (a count of a large table costs)
        rows = have.n_rows
    else:
        rows = int(session.execute(text("SELECT count(*) FROM search_fts_docsize")).scalar() or 0)
    if rows <= SYNC_BUILD_ROWS:
        fresh = build(session)
        if fresh.key != key:  # written meanwhile (not in one snapshot): FTS5 answers
            return None
        with _state.lock:
            _state.postings[url] = fresh
        return fresh
    if recent:
        return None
    with _state.lock:
        if url in _state.building:
            return None
        _state.building.add(url)
    threading.Thread(target=_build_in_background, args=(url,), daemon=True).start()
    return None


def _build_in_background(url: str) -> None:
    from callscribe.db import session_scope

    t0 = time.perf_counter()
    try:
        with session_scope(url) as session:
            fresh = build(session)
            unchanged = fts_key(session) == fresh.key
        if unchanged:
            with _state.lock:
                _state.postings[url] = fresh
            log.info(
                "search: keyword postings of %d rows built in %.1f s",
                fresh.n_rows,
                time.perf_counter() - t0,
            )
    except Exception:  # the FTS5 path answers meanwhile; the next stale query retries
        log.exception("search: building the keyword postings failed")
    finally:
        with _state.lock:
            _state.building.discard(url)
            _state.last_build[url] = time.monotonic()
            _state.build_seconds[url] = time.perf_counter() - t0


def warm(session: Session) -> Postings:
    """Build the index now, whatever its size (benchmarks; `callscribe serve` could)."""
    url = str(session.get_bind().engine.url)
    fresh = build(session)
    with _state.lock:
        _state.postings[url] = fresh
    return fresh


def reset() -> None:
    with _state.lock:
        _state.postings.clear()
        _state.last_build.clear()
        _state.build_seconds.clear()

"""The embedded keyword arm's NumPy postings give FTS5's bm25() exactly (same scores, same
order), follow writes, and the arm answers from FTS5 while they are stale."""

from __future__ import annotations

import pytest
from sqlalchemy import literal_column, select, text

from callscribe.search.index import postings
from callscribe.search.index.embedded import fts, fts_query
from callscribe.search.tokenize import query_terms
from tests.conftest import make_company
from tests.search.corpus import Corpus, index_all, insert_corpus

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

QUERIES = [
    "refund status",
    "so the remote control should have big buttons and a good design",
    "I want a refund for my order and the promo code",
    "MK-88213",
]


@pytest.fixture
def corpus(app_env: dict[str, str]) -> Corpus:
    company = make_company("Acme Support")
    data = insert_corpus(company.id)
    index_all([*data.chats, data.meeting])  # type: ignore[list-item]
    postings.reset()
    return data


def _fts5(session, q: str) -> list[tuple[int, float]]:  # type: ignore[no-untyped-def]
    rank = literal_column("bm25(search_fts)")
    stmt = (
        select(fts.c.rowid, rank.label("rank"))
        .select_from(fts)
        .where(literal_column("search_fts").op("MATCH")(fts_query(query_terms(q))))
        .order_by(literal_column("rank"), fts.c.rowid)
    )
    return [(int(t), -float(r)) for t, r in session.execute(stmt)]


@pytest.mark.parametrize("q", QUERIES)
def test_postings_score_every_row_as_fts5_bm25_does(corpus: Corpus, q: str) -> None:
    from callscribe.db import session_scope

    with session_scope() as s:
        index = postings.current(s)
        assert index is not None  # a small table: built in the query
        expected = _fts5(s, q)
        got = index.best(index.scores(query_terms(q)), 10_000)
    assert expected and got == expected  # bit for bit, ties by turn id
    for window in (1, 3, 7):
        assert got[:window] == index.best(index.scores(query_terms(q)), window)


def test_a_write_makes_them_stale_and_the_next_query_rebuilds_them(corpus: Corpus) -> None:
    from callscribe.db import session_scope
    from callscribe.search import service

    with session_scope() as s:
        before = postings.current(s)
    assert before is not None
    with session_scope() as s:
        service.remove_engagement(s, corpus.chats[0])
    with session_scope() as s:
        after = postings.current(s)
        assert after is not None and after is not before
        assert after.n_rows < before.n_rows
        assert after.best(after.scores(["refund"]), 10_000) == _fts5(s, "refund")


def test_a_large_stale_table_is_answered_by_fts5_while_rebuilt_aside(
    corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    from callscribe.db import session_scope
    from callscribe.search.index import Scope, index_for

    monkeypatch.setattr(postings, "SYNC_BUILD_ROWS", 0)
    built: list[str] = []
    monkeypatch.setattr(postings, "_build_in_background", lambda url: built.append(url))
    with session_scope() as s:
        assert postings.current(s) is None
        hits = index_for(s).keyword(s, Scope(corpus.company_id), ["refund"], 5)
        ids = [t for t, _ in _fts5(s, "refund")]
        n = s.execute(text("SELECT count(*) FROM search_fts")).scalar()
    assert built and n
    assert [t for t, _ in hits] == ids[:5]

"""The index contract: one class, run on both implementations (the embedded SQLite index
and the scaled PostgreSQL one, picked by the database of `db_url`'s two params), with the
same expected results on real transcripts (ABCD chats, a QMSum meeting)."""

from __future__ import annotations

import math
import uuid
from collections import Counter

import pytest
from sqlalchemy import func, select

from callscribe.calls.models import Turn
from callscribe.search.models import SearchEntry
from callscribe.search.schemas import SearchMode, TurnFilter
from callscribe.search.tokenize import query_terms, tokenize
from tests.conftest import make_company
from tests.search.corpus import (
    PRODUCT_CODE,
    PRODUCT_TURN,
    Corpus,
    abcd_turns,
    index_all,
    insert_corpus,
)


def _search(company_id: uuid.UUID, q: str, mode: SearchMode = SearchMode.HYBRID, **kw):  # type: ignore[no-untyped-def]
    from callscribe.db import session_scope
    from callscribe.search import service

    kw.setdefault("filters", TurnFilter())
    kw.setdefault("limit", 10)
    kw.setdefault("offset", 0)
    kw.setdefault("only_agent_id", None)
    with session_scope() as s:
        return service.search_turns(s, company_id, q, mode=mode, **kw)


def _texts(results) -> list[str]:  # type: ignore[no-untyped-def]
    from callscribe.db import session_scope

    with session_scope() as s:
        by_id = {
            t.id: t.text
            for t in s.scalars(select(Turn).where(Turn.id.in_([h.turn_id for h in results.hits])))
        }
    return [by_id[h.turn_id] for h in results.hits]


def _entry_count(**where: object) -> int:
    from callscribe.db import session_scope

    with session_scope() as s:
        stmt = select(func.count()).select_from(SearchEntry)
        for key, value in where.items():
            stmt = stmt.where(getattr(SearchEntry, key) == value)
        return int(s.scalar(stmt) or 0)


def reference_bm25(q: str) -> list[int]:
    """Turn ids in FTS5 bm25() order, computed by hand over every indexed turn: the
    textbook formula (k1 1.2, b 0.75, FTS5's idf floor), ties by turn id."""
    from callscribe.db import session_scope

    with session_scope() as s:
        rows = s.execute(
            select(Turn.id, Turn.text).join(SearchEntry, SearchEntry.turn_id == Turn.id)
        ).all()
    docs = {tid: Counter(tokenize(text)) for tid, text in rows}
    n = len(docs)
    avgdl = sum(sum(c.values()) for c in docs.values()) / n
    terms = query_terms(q)
    scores: dict[int, float] = {}
    for term in terms:
        df = sum(1 for c in docs.values() if term in c)
        if not df:
            continue
        idf = max(math.log((n - df + 0.5) / (df + 0.5)), 1e-6)
        for tid, c in docs.items():
            tf = c.get(term, 0)
            if tf:
                dl = sum(c.values())
                scores[tid] = scores.get(tid, 0.0) + idf * tf * 2.2 / (
                    tf + 1.2 * (0.25 + 0.75 * dl / avgdl)
                )
    return [tid for tid, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))]


@pytest.fixture
def corpus(app_env: dict[str, str]) -> Corpus:
    company = make_company("Acme Support")
    data = insert_corpus(company.id)
    index_all([*data.chats, data.meeting])  # type: ignore[list-item]
    return data


@pytest.fixture
def other_company(corpus: Corpus) -> Corpus:
    """Another company with the same chats (and so the same refund turns)."""
    other = make_company("Globex")
    data = insert_corpus(other.id, meeting=False)
    index_all(data.chats)
    return data


class TestIndexContract:
    @pytest.mark.parametrize(
        "q", ["when will I get my money back", "customer wants their money back"]
    )
    def test_a_query_sharing_no_word_finds_the_refund_turn_semantically(
        self, corpus: Corpus, q: str
    ) -> None:
        results = _search(corpus.company_id, q, SearchMode.SEMANTIC, limit=3)
        texts = _texts(results)
        refunds = [t for t in texts if "refund" in t.lower()]
        assert refunds, texts
        assert not set(tokenize(q)) & set(tokenize(refunds[0]))
        if q.startswith("when"):
            assert texts[0] == "how much long till it is refunded"

    def test_a_product_code_is_found_by_keyword_and_not_by_semantic(self, corpus: Corpus) -> None:
        keyword = _search(corpus.company_id, PRODUCT_CODE, SearchMode.KEYWORD)
        semantic = _texts(_search(corpus.company_id, PRODUCT_CODE, SearchMode.SEMANTIC))
        assert _texts(keyword) == [PRODUCT_TURN]
        assert PRODUCT_TURN not in semantic[:3]
        assert "<mark>MK</mark>-<mark>88213</mark>" in keyword.hits[0].highlight
        hybrid = _texts(_search(corpus.company_id, PRODUCT_CODE))
        assert PRODUCT_TURN in hybrid[:3]

    @pytest.mark.parametrize("q", ["refund status", "promo code expire", "remote control buttons"])
    def test_keyword_order_is_bm25_over_the_indexed_turns(self, corpus: Corpus, q: str) -> None:
        results = _search(corpus.company_id, q, SearchMode.KEYWORD, limit=100)
        assert [h.turn_id for h in results.hits] == reference_bm25(q)
        assert results.hits and results.total == len(results.hits)

    @pytest.mark.parametrize(
        "q",
        [
            "so the remote control should have big buttons and a good design",
            "I want a refund for my order and the promo code",
        ],
    )
    def test_a_shallow_keyword_cut_is_the_top_of_the_full_order(
        self, corpus: Corpus, q: str
    ) -> None:
        """Depths small enough that the arm skips the turns holding only the commonest
        terms (MaxScore): still the best `depth` of the full BM25 order."""
        from callscribe.db import session_scope
        from callscribe.search.index import Scope, index_for

        full = reference_bm25(q)
        for depth in (1, 2, 3, 5, 8):
            with session_scope() as s:
                hits = index_for(s).keyword(s, Scope(corpus.company_id), query_terms(q), depth)
            assert [t for t, _s in hits] == full[:depth], depth

    def test_hybrid_fuses_both_arms(self, corpus: Corpus) -> None:
        q = "when do promo codes expire"
        keyword = {
            h.turn_id for h in _search(corpus.company_id, q, SearchMode.KEYWORD, limit=1000).hits
        }
        semantic = {
            h.turn_id for h in _search(corpus.company_id, q, SearchMode.SEMANTIC, limit=1000).hits
        }
        hybrid = _search(corpus.company_id, q, limit=1000)
        assert {h.turn_id for h in hybrid.hits} == keyword | semantic
        assert {t for t in _texts(_search(corpus.company_id, q, limit=2))} == {
            "I've got a promo code and I want to know when they expire.",
            "Ok, all promo codes expire after 7 days without fail.",
        }
        scores = [h.score for h in hybrid.hits]
        assert scores == sorted(scores, reverse=True)

    def test_pages_continue_where_the_previous_ended(self, corpus: Corpus) -> None:
        first = _search(corpus.company_id, "refund", limit=3)
        second = _search(corpus.company_id, "refund", limit=3, offset=3)
        both = _search(corpus.company_id, "refund", limit=6)
        assert [h.turn_id for h in first.hits + second.hits] == [h.turn_id for h in both.hits]

    def test_reindexing_an_engagement_does_not_duplicate_entries(self, corpus: Corpus) -> None:
        before = _entry_count()
        hits_before = _search(corpus.company_id, "refund", SearchMode.KEYWORD).hits
        assert index_all([corpus.chats[1], corpus.chats[1]]) == 2 * len(abcd_turns()[1])
        assert _entry_count() == before
        assert _search(corpus.company_id, "refund", SearchMode.KEYWORD).hits == hits_before

    def test_a_reprocessed_call_is_found_by_its_new_text_only(self, corpus: Corpus) -> None:
        """GIVEN an indexed chat WHEN its turns are replaced (re-processing) and it is
        indexed again THEN the old words find nothing and the new ones find it."""
        from sqlalchemy import delete

        from callscribe.db import session_scope

        with session_scope() as s:
            s.execute(delete(Turn).where(Turn.engagement_id == corpus.chats[2]))
            s.add(
                Turn(
                    company_id=corpus.company_id,
                    engagement_id=corpus.chats[2],
                    seq=0,
                    role="customer",
                    start_ms=0,
                    end_ms=1,
                    text="my parcel never arrived",
                )
            )
        index_all([corpus.chats[2]])
        assert _entry_count(engagement_id=corpus.chats[2]) == 1
        assert _search(corpus.company_id, "promo", SearchMode.KEYWORD).hits == []
        assert _texts(_search(corpus.company_id, "parcel", SearchMode.KEYWORD)) == [
            "my parcel never arrived"
        ]
        assert [
            h.turn_id
            for h in _search(corpus.company_id, "refund status", SearchMode.KEYWORD, limit=100).hits
        ] == reference_bm25("refund status")

    def test_another_companys_turns_never_appear(
        self, corpus: Corpus, other_company: Corpus
    ) -> None:
        own = set(corpus.chats) | {corpus.meeting}
        for mode in SearchMode:
            for q in ("refund", "my money back, refund", "3348917502"):
                hits = _search(corpus.company_id, q, mode, limit=100).hits
                assert hits, (mode, q)
                assert {h.engagement_id for h in hits} <= own
                theirs = _search(other_company.company_id, q, mode, limit=100).hits
                assert theirs and {h.engagement_id for h in theirs} <= set(other_company.chats)

    def test_only_agent_id_restricts_to_that_agents_engagements(self, corpus: Corpus) -> None:
        bob = corpus.agents[1]  # the third chat (promo codes) only
        for mode in SearchMode:
            hits = _search(
                corpus.company_id, "refund promo code", mode, only_agent_id=bob, limit=100
            ).hits
            assert hits and {h.engagement_id for h in hits} == {corpus.chats[2]}

    def test_filters_apply_inside_both_arms_not_after_the_cut(self, corpus: Corpus) -> None:
        """Each arm narrowed to voice calls (the meeting) fills `depth` with meeting turns
        although none of them is in the unfiltered top `depth` (chats are all about
        refunds); narrowed to agent turns, the keyword arm skips the customers' ones."""
        from callscribe.db import session_scope
        from callscribe.search.embedders import get_embedder
        from callscribe.search.index import Scope, index_for

        with session_scope() as s:
            index = index_for(s)
            vector = get_embedder(s, corpus.company_id).embed(["refund"])[0]
            everything = Scope(corpus.company_id)
            voice = Scope(corpus.company_id, TurnFilter(channel="voice"))
            agents = Scope(corpus.company_id, TurnFilter(role="agent"))
            top = index.semantic(s, everything, vector, 5)
            assert _owners(s, top) == set(corpus.chats[:2])
            voice_top = index.semantic(s, voice, vector, 5)
            assert len(voice_top) == 5 and _owners(s, voice_top) == {corpus.meeting}
            words = index.keyword(s, everything, ["refund", "refunded"], 3)
            assert "customer" in _roles([t for t, _ in words])
            agent_words = index.keyword(s, agents, ["refund", "refunded"], 3)
            assert agent_words and _roles([t for t, _ in agent_words]) == {"agent"}
        for mode in SearchMode:
            hits = _search(
                corpus.company_id, "refund", mode, filters=TurnFilter(channel="voice"), limit=5
            ).hits
            assert {h.engagement_id for h in hits} <= {corpus.meeting}
        team = _search(
            corpus.company_id, "refund promo", filters=TurnFilter(team="promotions"), limit=100
        ).hits
        assert team and {h.engagement_id for h in team} == {corpus.chats[2]}

    def test_removing_an_engagement_removes_its_entries(self, corpus: Corpus) -> None:
        from callscribe.db import session_scope
        from callscribe.search import service

        with session_scope() as s:
            service.remove_engagement(s, corpus.chats[1])
        assert _entry_count(engagement_id=corpus.chats[1]) == 0
        for mode in SearchMode:
            hits = _search(corpus.company_id, "status of my refund", mode, limit=100).hits
            assert corpus.chats[1] not in {h.engagement_id for h in hits}
        assert [
            h.turn_id
            for h in _search(corpus.company_id, "refund", SearchMode.KEYWORD, limit=100).hits
        ] == reference_bm25("refund")

    def test_deleting_an_engagement_drops_its_entries_and_statistics(self, corpus: Corpus) -> None:
        from callscribe.calls.models import Engagement
        from callscribe.db import session_scope

        with session_scope() as s:
            s.delete(s.get(Engagement, corpus.chats[0]))
        assert _entry_count(engagement_id=corpus.chats[0]) == 0
        assert _search(corpus.company_id, "3348917502", SearchMode.KEYWORD).hits == []
        assert [
            h.turn_id
            for h in _search(corpus.company_id, "return refund", SearchMode.KEYWORD, limit=100).hits
        ] == reference_bm25("return refund")

    def test_similar_turns_never_include_the_turn_and_put_other_engagements_first(
        self, corpus: Corpus
    ) -> None:
        from callscribe.db import session_scope
        from callscribe.search import service

        with session_scope() as s:
            turn = s.scalars(
                select(Turn).where(
                    Turn.engagement_id == corpus.chats[1], Turn.text.like("%status of a refund%")
                )
            ).one()
            results = service.similar_turns(
                s, corpus.company_id, turn.id, limit=10, only_agent_id=None
            )
        ids = [h.turn_id for h in results.hits]
        assert turn.id not in ids and len(ids) == 10
        same = [h.engagement_id == corpus.chats[1] for h in results.hits]
        assert same == sorted(same)  # all others first
        assert results.hits[0].engagement_id != corpus.chats[1]

    def test_similar_turns_of_another_companys_turn_is_not_found(
        self, corpus: Corpus, other_company: Corpus
    ) -> None:
        from callscribe.db import session_scope
        from callscribe.errors import NotFound
        from callscribe.search import service

        with session_scope() as s:
            theirs = s.scalars(
                select(Turn.id).where(Turn.engagement_id == other_company.chats[0])
            ).first()
            with pytest.raises(NotFound):
                service.similar_turns(s, corpus.company_id, theirs, limit=5, only_agent_id=None)

    @pytest.mark.parametrize("q", ["", "   ", "x" * 1001])
    def test_an_empty_or_overlong_query_is_refused_with_a_message(
        self, corpus: Corpus, q: str
    ) -> None:
        from callscribe.errors import ValidationFailed

        with pytest.raises(ValidationFailed) as err:
            _search(corpus.company_id, q)
        assert err.value.status == 422 and err.value.message

    def test_an_unknown_mode_is_refused_with_a_message(self, corpus: Corpus) -> None:
        from callscribe.errors import ValidationFailed

        with pytest.raises(ValidationFailed, match="mode must be one of"):
            _search(corpus.company_id, "refund", "fuzzy")  # type: ignore[arg-type]

    def test_a_giant_word_is_indexed_and_searched_without_error(self, corpus: Corpus) -> None:
        """An email with a pasted blob: a 3,000-byte word (PostgreSQL's limit is 2,046)."""
        from tests.conftest import insert_text_engagement

        blob = "é" * 1500
        eid = insert_text_engagement(corpus.company_id, [("customer", f"attachment {blob} refund")])
        assert index_all([eid]) == 1
        for mode in SearchMode:
            _search(corpus.company_id, blob[:900], mode)
        assert eid in {
            h.engagement_id
            for h in _search(corpus.company_id, "attachment", SearchMode.KEYWORD).hits
        }

    def test_query_syntax_is_taken_as_words(self, corpus: Corpus) -> None:
        for q in (
            '"refund',
            "refund OR",
            "NEAR(refund status)",
            "refund*",
            "'; DROP TABLE turns; --",
            "ü ♥ 中文",
        ):
            for mode in SearchMode:
                _search(corpus.company_id, q, mode)  # no error
        assert _texts(_search(corpus.company_id, '"refund"*', SearchMode.KEYWORD, limit=100))


def _owners(session, hits) -> set[uuid.UUID]:  # type: ignore[no-untyped-def]
    return set(session.scalars(select(Turn.engagement_id).where(Turn.id.in_([t for t, _ in hits]))))


def _roles(turn_ids: list[int]) -> set[str]:
    from callscribe.db import session_scope

    with session_scope() as s:
        return set(s.scalars(select(Turn.role).where(Turn.id.in_(turn_ids))))

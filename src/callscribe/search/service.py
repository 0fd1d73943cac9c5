"""Search over every turn of a company: indexing and queries (no HTTP).

Hybrid search runs both arms of the index (keyword BM25, semantic cosine), each already
narrowed to the scope (company, filters, agent) inside its own query, and fuses their
ranked lists by weighted reciprocal rank fusion. `total` counts the distinct turns the
arms returned, each arm looking at most `candidate_depth(offset, limit)` turns deep
(CANDIDATE_DEPTH, or deeper when paging far): it is capped, not an exact count.
"""

from __future__ import annotations

import html
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from callscribe.calls import service as calls_service
from callscribe.calls.models import Engagement, Turn
from callscribe.errors import NotFound, ValidationFailed
from callscribe.search.embedders import get_embedder
from callscribe.search.index import Doc, Scope, index_for
from callscribe.search.models import SearchEntry
from callscribe.search.schemas import SearchMode, TurnFilter
from callscribe.search.tokenize import query_terms, token_spans, tokenize

__all__ = [
    "SearchHit",
    "SearchMode",
    "SearchResults",
    "TurnFilter",
    "embed_turns",
    "index_engagement",
    "reindex_company",
    "remove_engagement",
    "search_turns",
    "set_tag_engagements",
    "similar_turns",
]

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 1000
CANDIDATE_DEPTH = 100  # turns each arm ranks before fusion (and the cap of `total`)
RRF_K = 60
# Weights of the arms in the fusion, tuned on the 84 QMSum questions by
# bench/bench_search_quality.py --sweep (P@10, semantic weight 1.0; BM25 baseline 0.220,
# semantic alone 0.299, keyword alone 0.251): keyword weight 0.1 -> 0.308, 0.2 -> 0.315,
# 0.3 -> 0.318, 0.5 -> 0.314, 1.0 (plain RRF) -> 0.305, 1.5 -> 0.295. The questions are
# phrased unlike the meeting talk, so the keyword arm counts for less than the semantic.
RRF_WEIGHT_KEYWORD = 0.3
RRF_WEIGHT_SEMANTIC = 1.0


# (company id, tag name) -> SELECT of the ids of the company's engagements carrying the
# tag. Tags are the reviews domain's, which imports search: the shell, which may import
# both, hands the function in (app.py, cli.py) so that search never imports reviews.
TagEngagements = Callable[[uuid.UUID, str], Select[Any]]
_tag_engagements: TagEngagements | None = None


def set_tag_engagements(resolve: TagEngagements | None) -> None:
    """How the `tag` filter finds its engagements (None: the filter is refused)."""
    global _tag_engagements
    _tag_engagements = resolve


def _tagged(company_id: uuid.UUID, filters: TurnFilter) -> Select[Any] | None:
    if not filters.tag:
        return None
    if _tag_engagements is None:
        raise ValidationFailed("Filtering by tag is not available in this process.")
    return _tag_engagements(company_id, filters.tag)


@dataclass(frozen=True)
class SearchHit:
    turn_id: int  # turns.id (an integer in this schema)
    engagement_id: uuid.UUID
    score: float  # fused score (hybrid) or the arm's score (BM25, cosine)
    highlight: str  # the turn text, HTML-escaped, query words wrapped in <mark>…</mark>


@dataclass(frozen=True)
class SearchResults:
    hits: list[SearchHit]
    total: int  # matching turns, counted up to the arms' candidate depth (see module doc)


def shown_text(turn: Turn) -> str:
    """The text of a turn that goes into the index (and is highlighted): the masked text
    (privacy), so no PII reaches the index, its embeddings or a search result (the API's
    `text` and the page's context turns show the same)."""
    return calls_service.masked_turn_text(turn) if turn.text else ""


def embed_turns(session: Session, company_id: uuid.UUID, turns: list[Turn]) -> tuple[str, Any]:
    """(embedder name, (len(turns), dim) float32 L2-normalised vectors) of the turns' index
    text (`shown_text`: masked) by the company's embedder: what the index stores, for a
    domain that learns from turn embeddings (reviews' auto review)."""
    embedder = get_embedder(session, company_id)
    return embedder.name, embedder.embed([shown_text(t) for t in turns])


# -- indexing ------------------------------------------------------------------------------


def index_engagement(session: Session, engagement_id: uuid.UUID) -> int:
    """(Re)index every turn of the engagement, replacing its earlier entries; returns how
    many turns were indexed (turns without any text are left out)."""
    engagement = session.get(Engagement, engagement_id)
    if engagement is None:
        raise NotFound("Engagement not found.")
    turns = list(
        session.scalars(select(Turn).where(Turn.engagement_id == engagement_id).order_by(Turn.seq))
    )
    texts = [shown_text(t) for t in turns]
    kept = [(t, text) for t, text in zip(turns, texts, strict=True) if text.strip()]
    embedder = get_embedder(session, engagement.company_id)
    vectors = embedder.embed([text for _t, text in kept])
    docs = [
        Doc(turn_id=t.id, engagement_id=engagement_id, text=text, terms=tokenize(text), vector=vec)
        for (t, text), vec in zip(kept, vectors, strict=True)
    ]
    index_for(session).replace_engagement(
        session, engagement.company_id, engagement_id, docs, embedder.name
    )
    return len(docs)


def remove_engagement(session: Session, engagement_id: uuid.UUID) -> None:
    """Drop the engagement's entries (call before deleting it; a cascade also drops them)."""
    index_for(session).remove_engagement(session, engagement_id)


def reindex_company(
    session_factory: Callable[[], Any],
    company_id: uuid.UUID | None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Index every engagement of the company (of all companies when None), one
    transaction per engagement; `progress(done, total)` after each. Returns turns indexed.
    `session_factory()` is a context manager giving a session that commits on exit
    (`db.session_scope`)."""
    with session_factory() as session:
        stmt = select(Engagement.id).order_by(Engagement.created_at, Engagement.id)
        if company_id is not None:
            stmt = stmt.where(Engagement.company_id == company_id)
        ids = list(session.scalars(stmt))
    indexed = 0
    for done, engagement_id in enumerate(ids, start=1):
        with session_factory() as session:
            indexed += index_engagement(session, engagement_id)
        if progress is not None:
            progress(done, len(ids))
    return indexed


# -- queries -------------------------------------------------------------------------------


def candidate_depth(offset: int, limit: int) -> int:
    return max(CANDIDATE_DEPTH, offset + limit)


def fuse(
    ranked: list[tuple[list[tuple[int, float]], float]], k: int = RRF_K
) -> list[tuple[int, float]]:
    """Weighted reciprocal rank fusion: score(d) = sum over lists of w / (k + rank), rank
    from 1. Ties by turn id, so both backends order equal scores the same way."""
    scores: dict[int, float] = {}
    for hits, weight in ranked:
        for rank, (turn_id, _score) in enumerate(hits, start=1):
            scores[turn_id] = scores.get(turn_id, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def _check_query(q: str) -> str:
    q = (q or "").strip()
    if not q:
        raise ValidationFailed("Give something to search for (q is empty).")
    if len(q) > MAX_QUERY_CHARS:
        raise ValidationFailed(f"The query is too long: at most {MAX_QUERY_CHARS} characters.")
    return q


def search_turns(
    session: Session,
    company_id: uuid.UUID,
    q: str,
    *,
    mode: SearchMode = SearchMode.HYBRID,
    filters: TurnFilter | None = None,
    limit: int = 20,
    offset: int = 0,
    only_agent_id: uuid.UUID | None = None,
) -> SearchResults:
    """The company's turns that best match `q`. `only_agent_id`: an agent-role principal
    sees only turns of engagements with that agent."""
    q = _check_query(q)
    try:
        mode = SearchMode(mode)
    except ValueError:
        modes = ", ".join(m.value for m in SearchMode)
        raise ValidationFailed(f"mode must be one of {modes}.") from None
    if limit < 1 or offset < 0:
        raise ValidationFailed("limit must be at least 1 and offset not negative.")
    filters = filters or TurnFilter()
    scope = Scope(company_id, filters, only_agent_id, engagements=_tagged(company_id, filters))
    index = index_for(session)
    depth = candidate_depth(offset, limit)
    terms = query_terms(q)
    keyword: list[tuple[int, float]] = []
    semantic: list[tuple[int, float]] = []
    if mode in (SearchMode.HYBRID, SearchMode.KEYWORD) and terms:
        keyword = index.keyword(session, scope, terms, depth)
    if mode in (SearchMode.HYBRID, SearchMode.SEMANTIC):
        vector = get_embedder(session, company_id).embed([q])[0]
        semantic = index.semantic(session, scope, vector, depth)
    if mode == SearchMode.KEYWORD:
        ranked = keyword
    elif mode == SearchMode.SEMANTIC:
        ranked = semantic
    else:
        ranked = fuse([(keyword, RRF_WEIGHT_KEYWORD), (semantic, RRF_WEIGHT_SEMANTIC)])
    page = ranked[offset : offset + limit]
    return SearchResults(_hits(session, page, set(terms)), len(ranked))


def similar_turns(
    session: Session,
    company_id: uuid.UUID,
    turn_id: int,
    *,
    limit: int = 10,
    only_agent_id: uuid.UUID | None = None,
) -> SearchResults:
    """Turns nearest in meaning to an indexed turn of the company: never the turn itself,
    turns of other engagements first (each group by similarity)."""
    entry = session.get(SearchEntry, turn_id)
    if entry is None or entry.company_id != company_id:
        raise NotFound("Turn not found in the search index.")
    index = index_for(session)
    vector = index.vector_of(session, company_id, turn_id)
    if vector is None:
        raise NotFound("Turn not found in the search index.")
    scope = Scope(company_id, TurnFilter(), only_agent_id, exclude_turn_id=turn_id)
    # deep enough that `limit` turns of other engagements are found unless there are none
    near = index.semantic(session, scope, vector, max(CANDIDATE_DEPTH, limit * 5))
    owners = dict(
        session.execute(
            select(SearchEntry.turn_id, SearchEntry.engagement_id).where(
                SearchEntry.turn_id.in_([t for t, _s in near])
            )
        ).all()
    )
    near.sort(key=lambda hit: owners.get(hit[0]) == entry.engagement_id)  # stable
    return SearchResults(_hits(session, near[:limit], set()), len(near))


# -- results -------------------------------------------------------------------------------


def highlight(text: str, terms: set[str]) -> str:
    """`text` HTML-escaped, with each token whose term is in `terms` in <mark>…</mark>."""
    if not terms:
        return html.escape(text)
    out: list[str] = []
    pos = 0
    for start, end, term in token_spans(text):
        if term in terms:
            out.append(html.escape(text[pos:start]))
            out.append(f"<mark>{html.escape(text[start:end])}</mark>")
            pos = end
    out.append(html.escape(text[pos:]))
    return "".join(out)


def _hits(session: Session, ranked: list[tuple[int, float]], terms: set[str]) -> list[SearchHit]:
    if not ranked:
        return []
    turns = {
        t.id: t for t in session.scalars(select(Turn).where(Turn.id.in_([i for i, _ in ranked])))
    }
    hits = []
    for turn_id, score in ranked:
        turn = turns.get(turn_id)
        if turn is None:  # deleted between the arms' queries and this one
            continue
        text = shown_text(turn)
        hits.append(SearchHit(turn_id, turn.engagement_id, float(score), highlight(text, terms)))
    return hits

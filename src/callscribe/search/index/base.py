"""What a search index is: two arms over the same entries, each ranking the turns a scope
allows (company always; filters and agent applied inside the arm, before its top cut)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import numpy as np
from sqlalchemy import ColumnElement, Select, and_, literal, select
from sqlalchemy.orm import Session

from callscribe.calls.models import Engagement, Turn
from callscribe.search.models import SearchEntry
from callscribe.search.schemas import TurnFilter

S = TypeVar("S", bound=Select)

# BM25 parameters: FTS5's bm25() defaults, which the PostgreSQL arm computes the same way
BM25_K1 = 1.2
BM25_B = 0.75


# The keyword arms skip what cannot make the cut (MaxScore): a term adds at most
# idf x (k1 + 1) to a turn's BM25 score (tf / (tf + norm) < 1), so once `depth` turns
# in scope score above theta, a turn that holds only the commonest terms, whose bounds
# add up to less than theta, is not among the best `depth`. theta comes from a probe:
# the turns holding the rarest terms (together in at most PROBE_PER_DEPTH x depth turns),
# scored on every term; their depth-th score is at most the depth-th over all turns.
# 5 x depth: of 1, 2.5, 5, 10 and 20, the fewest turns looked at over the QMSum questions
# at 50k turns (bench_search_scale.py data; p95 4,494 turns a query against 14,029).
PROBE_PER_DEPTH = 5
_BOUND_MARGIN = 1e-9  # relative: float sums in another order stay on the safe side


def probe_terms(df: dict[str, int], docs: int) -> list[str]:
    """The rarest terms whose document frequencies add up to at most `docs` (the rarest
    one at least)."""
    picked: list[str] = []
    total = 0
    for term in sorted(df, key=lambda t: (df[t], t)):
        if picked and total + df[term] > docs:
            break
        picked.append(term)
        total += df[term]
    return picked


def essential_terms(idf: dict[str, float], theta: float) -> list[str]:
    """The terms a turn must hold to possibly score above `theta`: all but the commonest
    ones whose bounds add up to less than theta (in the order of `idf`)."""
    skipped: set[str] = set()
    bound = 0.0
    for term in sorted(idf, key=lambda t: (idf[t], t)):
        b = idf[term] * (BM25_K1 + 1)
        if (bound + b) * (1 + _BOUND_MARGIN) >= theta:
            break
        bound += b
        skipped.add(term)
    return [t for t in idf if t not in skipped]


def keyword_top(
    ranked: Callable[[list[str]], list[tuple[int, float]]],
    df: dict[str, int],
    idf: dict[str, float],
    depth: int,
) -> list[tuple[int, float]]:
    """The best `depth` of `ranked(terms)` (BM25 on every term of `idf`, over the turns in
    scope that hold any of `terms`) for terms = all, looking at fewer turns when MaxScore
    allows it (see PROBE_PER_DEPTH); the same list as ranked(list(idf))[:depth]."""
    every = list(idf)
    probe = probe_terms({t: df[t] for t in every}, PROBE_PER_DEPTH * depth)
    if len(probe) == len(every):
        return ranked(every)
    hits = ranked(probe)
    theta = hits[depth - 1][1] if len(hits) >= depth else 0.0
    needed = essential_terms(idf, theta) if theta > 0 else every
    if set(needed) <= set(probe):
        return hits
    return ranked(needed)


@dataclass(frozen=True)
class Doc:
    """One turn to index."""

    turn_id: int
    engagement_id: uuid.UUID
    text: str
    terms: list[str]  # search.tokenize of text
    vector: np.ndarray  # (dim,) float32, L2-normalised


@dataclass(frozen=True)
class Scope:
    company_id: uuid.UUID
    filters: TurnFilter = field(default_factory=TurnFilter)
    only_agent_id: uuid.UUID | None = None
    exclude_turn_id: int | None = None
    # the engagements allowed besides (a SELECT of ids: the `tag` filter, resolved by the
    # shell, see service.set_tag_engagements)
    engagements: Select[Any] | None = None

    @property
    def narrowed(self) -> bool:
        """Anything beyond the company (then the matrix arm masks rows by SQL first)."""
        return (
            self.only_agent_id is not None
            or self.exclude_turn_id is not None
            or self.engagements is not None
            or any(v is not None for v in self.filters.model_dump().values())
        )


def scoped(stmt: S, scope: Scope) -> S:
    """`stmt` over SearchEntry, joined to its live turn and engagement, narrowed to the
    scope. The turn is joined on id AND engagement: an entry whose turn was replaced (a
    re-processed call) matches nothing until it is re-indexed."""
    stmt = stmt.join(
        Turn, and_(Turn.id == SearchEntry.turn_id, Turn.engagement_id == SearchEntry.engagement_id)
    ).join(Engagement, Engagement.id == SearchEntry.engagement_id)
    stmt = stmt.where(SearchEntry.company_id == scope.company_id)
    stmt = stmt.where(Engagement.company_id == scope.company_id)
    if scope.only_agent_id is not None:
        stmt = stmt.where(Engagement.agent_id == scope.only_agent_id)
    if scope.exclude_turn_id is not None:
        stmt = stmt.where(SearchEntry.turn_id != scope.exclude_turn_id)
    if scope.engagements is not None:
        stmt = stmt.where(Engagement.id.in_(scope.engagements))
    return scope.filters.apply_turns(stmt, Turn, Engagement)


def live_in_scope(
    scope: Scope, turn_id: Any = SearchEntry.turn_id, engagement_id: Any = SearchEntry.engagement_id
) -> ColumnElement[bool]:
    """The condition `scoped` joins for (but the entry's own company), as a correlated
    EXISTS over an entry's `turn_id` and `engagement_id` (SearchEntry's, or a subquery's
    columns): its live turn and engagement are in the scope. For queries that must keep a plan over
    search_entries alone (an HNSW index scan in distance order, a GIN candidate scan)
    with the check done row by row on the primary keys of turns and engagements."""
    sub = (
        select(literal(1))
        .select_from(Turn)
        .join(Engagement, Engagement.id == Turn.engagement_id)
        .where(
            Turn.id == turn_id,
            Turn.engagement_id == engagement_id,
            Engagement.company_id == scope.company_id,
        )
    )
    if scope.exclude_turn_id is not None:
        sub = sub.where(Turn.id != scope.exclude_turn_id)
    if scope.only_agent_id is not None:
        sub = sub.where(Engagement.agent_id == scope.only_agent_id)
    if scope.engagements is not None:
        sub = sub.where(Engagement.id.in_(scope.engagements))
    return scope.filters.apply_turns(sub, Turn, Engagement).exists()


def entries_select(*columns: Any) -> Select[Any]:
    return select(*columns).select_from(SearchEntry)


class SearchIndex(Protocol):
    name: str

    def replace_engagement(
        self,
        session: Session,
        company_id: uuid.UUID,
        engagement_id: uuid.UUID,
        docs: list[Doc],
        embedder: str,
    ) -> None:
        """Drop the engagement's entries (and those of `docs`' turn ids), add `docs`."""
        ...

    def remove_engagement(self, session: Session, engagement_id: uuid.UUID) -> None: ...

    def keyword(
        self, session: Session, scope: Scope, terms: list[str], depth: int
    ) -> list[tuple[int, float]]:
        """(turn id, BM25 score, higher is better) of the best `depth` turns in scope that
        contain any of `terms`; ties by turn id."""
        ...

    def semantic(
        self, session: Session, scope: Scope, vector: np.ndarray, depth: int
    ) -> list[tuple[int, float]]:
        """(turn id, cosine similarity) of the `depth` nearest turns in scope."""
        ...

    def vector_of(self, session: Session, company_id: uuid.UUID, turn_id: int) -> np.ndarray | None:
        """The stored vector of an indexed turn of the company, or None."""
        ...

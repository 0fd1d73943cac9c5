"""What a search index is: two arms over the same entries, each ranking the turns a scope
allows (company always; filters and agent applied inside the arm, before its top cut)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import numpy as np
from sqlalchemy import Select, and_, select
from sqlalchemy.orm import Session

from callscribe.calls.models import Engagement, Turn
from callscribe.search.models import SearchEntry
from callscribe.search.schemas import TurnFilter

S = TypeVar("S", bound=Select)

# BM25 parameters: FTS5's bm25() defaults, which the PostgreSQL arm computes the same way
BM25_K1 = 1.2
BM25_B = 0.75


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

    @property
    def narrowed(self) -> bool:
        """Anything beyond the company (then the matrix arm masks rows by SQL first)."""
        return (
            self.only_agent_id is not None
            or self.exclude_turn_id is not None
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
    return scope.filters.apply_turns(stmt, Turn, Engagement)


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

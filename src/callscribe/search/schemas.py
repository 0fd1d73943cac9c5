from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import Select, and_, or_, select

from callscribe.kit.filters import EngagementFilter
from callscribe.kit.schemas import OutModel

S = TypeVar("S", bound=Select)


class SearchMode(StrEnum):
    HYBRID = "hybrid"
    SEMANTIC = "semantic"
    KEYWORD = "keyword"


class TurnFilter(EngagementFilter):
    """Which turns: everything `EngagementFilter` has (over the turn's engagement), plus
    `role` (the speaker role of the turn: agent, customer, bot, unknown), `team` (the
    engagement's agent's team), `outcome` (the source's outcome, else the Minutes'
    label) and `tag`.

    `tag` is not applied here: review tags live in the reviews domain, which imports
    search (turn embeddings for auto review), so search cannot read them without an
    import cycle. search.service resolves it to the engagements carrying the tag with
    the function the shell hands in (`set_tag_engagements`) and both arms of the index
    apply it inside their queries (index.base.Scope.engagements).
    """

    role: str | None = None
    team: str | None = None
    tag: str | None = None
    outcome: str | None = None

    def engagement_filter(self) -> EngagementFilter:
        """The engagement part; `outcome` is left to apply_turns (the source's outcome,
        else the Minutes', as analytics reads it)."""
        fields = set(EngagementFilter.model_fields) - {"outcome"}
        return EngagementFilter(**self.model_dump(include=fields))

    def apply_turns(self, stmt: S, turn: Any, engagement: Any) -> S:
        """`stmt` (which already has `turn` joined to `engagement`) narrowed to the
        matching turns. Company scoping is the caller's (always given)."""
        from callscribe.accounts.models import Agent
        from callscribe.calls.models import Minutes

        stmt = self.engagement_filter().apply(stmt, engagement)
        if self.role:
            stmt = stmt.where(turn.role == self.role)
        if self.team:
            stmt = stmt.where(
                engagement.agent_id.in_(select(Agent.id).where(Agent.team == self.team))
            )
        if self.outcome:
            analysed = engagement.id.in_(
                select(Minutes.engagement_id).where(Minutes.outcome == self.outcome)
            )
            stmt = stmt.where(
                or_(
                    engagement.outcome == self.outcome,
                    and_(engagement.outcome.is_(None), analysed),
                )
            )
        return stmt


# -- the API's answers (search.api): `GET /api/search` and `GET /api/turns/{id}/similar`
# answer the same `{"items", "total", "took_ms"}` (the issue fixes the field names)


class SearchEngagementOut(OutModel):
    channel: str
    started_at: datetime | None
    agent_name: str | None
    customer_id: uuid.UUID | None
    subject: str | None


class SearchItemOut(BaseModel):
    turn_id: int
    engagement_id: uuid.UUID
    seq: int = Field(description="the turn's 0-based position in its engagement")
    role: str
    speaker: str | None
    text: str
    start_ms: int
    score: float
    highlight: str = Field(
        description="the turn's text, HTML-escaped, with the matches in <mark>...</mark>"
    )
    engagement: SearchEngagementOut


class SearchResultsOut(BaseModel):
    items: list[SearchItemOut]
    total: int = Field(ge=0, description="matching turns, counted up to the index's cap")
    took_ms: float

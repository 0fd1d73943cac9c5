from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import Select, select

from callscribe.kit.filters import EngagementFilter

S = TypeVar("S", bound=Select)


class SearchMode(StrEnum):
    HYBRID = "hybrid"
    SEMANTIC = "semantic"
    KEYWORD = "keyword"


class TurnFilter(EngagementFilter):
    """Which turns: everything `EngagementFilter` has (over the turn's engagement), plus
    `role` (the speaker role of the turn: agent, customer, bot, unknown), `team` (the
    engagement's agent's team), `outcome` (the Minutes outcome label) and `tag`.

    `tag` is accepted and NOT applied yet: Minutes keep tags as a JSON list, which has no
    portable, indexable SQL form on both databases; it is applied once tags get a table.
    """

    role: str | None = None
    team: str | None = None
    tag: str | None = None
    outcome: str | None = None

    def engagement_filter(self) -> EngagementFilter:
        return EngagementFilter(**self.model_dump(include=set(EngagementFilter.model_fields)))

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
            stmt = stmt.where(
                engagement.id.in_(
                    select(Minutes.engagement_id).where(Minutes.outcome == self.outcome)
                )
            )
        return stmt

"""One filter over engagements, for every list of them and of what hangs off them: the
calls list, action items, exports, and the coming search, saved views and metrics.

The kit knows no domain, so the filter is applied to the engagement entity it is given
(anything with the columns named below, `calls.models.Engagement` in practice); the
owner of the entity adds what the principal may see (an agent: only their own calls).
"""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, field_validator
from sqlalchemy import Select, func, or_

from callscribe.kit.schemas import InstantIn

S = TypeVar("S", bound=Select[Any])


class EngagementFilter(BaseModel):
    """Which engagements. Every field left None matches all. `status` is one status or
    several (a list, or comma-separated as the API's query string has them). The date
    is when the engagement started, or was received when the start is unknown; both
    ends are inclusive. `customer` matches part of the customer's name or phone."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: str | tuple[str, ...] | None = None  # a tuple once validated
    agent_id: uuid.UUID | None = None
    direction: str | None = None
    channel: str | None = None
    source: str | None = None
    date_from: InstantIn | None = None
    date_to: InstantIn | None = None
    customer: str | None = None  # the boundary limits its length (the API: 200)
    # the dashboards' filters (analytics): each an exact match on the engagement
    location: str | None = None
    queue: str | None = None
    engaged_team: str | None = None
    engaged_department: str | None = None
    outcome: str | None = None
    # `Type = Technical` engagements: None leaves them as every list had them (included);
    # False keeps them out (analytics' default), True keeps only them
    technical: bool | None = None
    # review filters (the quality dashboard): engagements carrying the tag of this name
    # (a person's review, or the AI's flag), and those a person tagged `Reviewed` (True)
    # or not (False). The reviews domain owns those tables: `apply` leaves both to the
    # owner of the list (analytics applies them)
    tag: str | None = None
    reviewed: bool | None = None

    @field_validator("status", mode="before")
    @classmethod
    def split_statuses(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [s.strip() for s in v.split(",")]
        if isinstance(v, list | tuple):
            v = tuple(str(s) for s in v if str(s))
            return v or None
        return v

    def apply(self, stmt: S, entity: Any, company_id: uuid.UUID | None = None) -> S:
        """`stmt` narrowed to the matching rows of `entity` (and of `company_id`)."""
        if company_id is not None:
            stmt = stmt.where(entity.company_id == company_id)
        if self.status:
            statuses = (self.status,) if isinstance(self.status, str) else self.status
            stmt = stmt.where(entity.status.in_(statuses))
        if self.agent_id:
            stmt = stmt.where(entity.agent_id == self.agent_id)
        if self.direction:
            stmt = stmt.where(entity.direction == self.direction)
        if self.channel:
            stmt = stmt.where(entity.channel == self.channel)
        if self.source:
            stmt = stmt.where(entity.source == self.source)
        for name in ("location", "queue", "engaged_team", "engaged_department", "outcome"):
            value = getattr(self, name)
            if value:
                stmt = stmt.where(getattr(entity, name) == value)
        if self.technical is not None:
            stmt = stmt.where(entity.is_technical.is_(self.technical))
        when = func.coalesce(entity.started_at, entity.created_at)
        if self.date_from:
            stmt = stmt.where(when >= self.date_from)
        if self.date_to:
            stmt = stmt.where(when <= self.date_to)
        if self.customer:
            like = f"%{self.customer}%"
            stmt = stmt.where(
                or_(entity.customer_name.ilike(like), entity.customer_phone.ilike(like))
            )
        return stmt

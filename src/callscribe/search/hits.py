"""What a search hit shows (the API's items, the Search page's results): the turn, its
position in its engagement, the turns before and after it, and the engagement it is
part of. The index (search.service) answers ids and scores; this reads the rest from the
calls domain in a fixed number of queries per page of hits, and applies who may see
what (an agent: only their own calls)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callscribe.accounts.models import Agent
from callscribe.auth.principal import Principal
from callscribe.calls.models import Engagement, Minutes, Turn
from callscribe.search import service
from callscribe.search.service import SearchHit, SearchMode, TurnFilter

MAX_QUERY_CHARS = 1_000  # the issue: a longer q is a 422
MAX_RESULTS = 1_000  # offset + limit past this is refused: page deeper by narrowing the filters


@dataclass(frozen=True)
class EngagementInfo:
    id: uuid.UUID
    channel: str
    started_at: datetime | None
    agent_name: str | None
    customer_id: uuid.UUID | None
    customer_name: str | None
    subject: str | None


@dataclass(frozen=True)
class HitView:
    """One hit, ready to show. `seq` is the turn's 0-based position in its engagement
    (in the order the call page shows the transcript: start time, then seq)."""

    turn: Turn
    seq: int
    score: float
    highlight: str
    engagement: EngagementInfo
    before: Turn | None = None
    after: Turn | None = None


@dataclass(frozen=True)
class HitsPage:
    hits: list[HitView]
    total: int
    took_ms: float


class Scope:
    """Whose turns a principal may see: None is all of the company's; an agent sees
    their own calls only, and an agent user linked to no agent record sees nothing."""

    def __init__(self, principal: Principal) -> None:
        self.company_id = principal.company_id
        self.only_agent_id: uuid.UUID | None = None
        self.nothing = False
        if principal.sees_only_own_calls:
            self.only_agent_id = principal.agent_id
            self.nothing = principal.agent_id is None


def search(
    session: Session,
    principal: Principal,
    q: str,
    *,
    mode: SearchMode,
    filters: TurnFilter,
    limit: int,
    offset: int,
    context: bool = False,
) -> HitsPage:
    started = time.perf_counter()
    scope = Scope(principal)
    if scope.nothing:
        return HitsPage([], 0, _ms_since(started))
    found = service.search_turns(
        session,
        scope.company_id,
        q,
        mode=mode,
        filters=filters,
        limit=limit,
        offset=offset,
        only_agent_id=scope.only_agent_id,
    )
    views = present(session, scope, found.hits, context=context)
    # a hit whose turn vanished since it was indexed (re-processed just now) is dropped
    total = max(found.total - (len(found.hits) - len(views)), len(views))
    return HitsPage(views, total, _ms_since(started))


def visible_turn(session: Session, principal: Principal, turn_id: int) -> Turn | None:
    """The turn, when the principal may see its engagement."""
    scope = Scope(principal)
    if scope.nothing:
        return None
    stmt = (
        select(Turn)
        .join(Engagement, Engagement.id == Turn.engagement_id)
        .where(Turn.id == turn_id, Engagement.company_id == scope.company_id)
    )
    if scope.only_agent_id is not None:
        stmt = stmt.where(Engagement.agent_id == scope.only_agent_id)
    return session.scalars(stmt).first()


def similar(
    session: Session, principal: Principal, turn: Turn, *, limit: int, context: bool = False
) -> HitsPage:
    started = time.perf_counter()
    scope = Scope(principal)
    found = service.similar_turns(
        session,
        scope.company_id,
        turn.id,
        limit=limit,
        only_agent_id=scope.only_agent_id,
    )
    hits = [h for h in found.hits if h.turn_id != turn.id]  # never the turn itself
    # other engagements first (a stable sort: the index's order within each part)
    hits.sort(key=lambda h: h.engagement_id == turn.engagement_id)
    views = present(session, scope, hits, context=context)
    return HitsPage(views, len(views), _ms_since(started))


def present(
    session: Session, scope: Scope, hits: Sequence[SearchHit], *, context: bool = False
) -> list[HitView]:
    """The hits that are still there and visible, in the index's order."""
    if not hits:
        return []
    turn_ids = [h.turn_id for h in hits]
    stmt = (
        select(Turn)
        .join(Engagement, Engagement.id == Turn.engagement_id)
        .where(Turn.id.in_(turn_ids), Engagement.company_id == scope.company_id)
    )
    if scope.only_agent_id is not None:
        stmt = stmt.where(Engagement.agent_id == scope.only_agent_id)
    turns = {t.id: t for t in session.scalars(stmt)}
    engagement_ids = {t.engagement_id for t in turns.values()}
    position, at = _positions(session, engagement_ids)
    neighbours: dict[int, Turn] = {}
    if context:
        wanted = set()
        for t in turns.values():
            pos = position.get(t.id)
            if pos is None:
                continue
            for p in (pos - 1, pos + 1):
                if (t.engagement_id, p) in at:
                    wanted.add(at[(t.engagement_id, p)])
        if wanted:
            neighbours = {t.id: t for t in session.scalars(select(Turn).where(Turn.id.in_(wanted)))}
    infos = _engagements(session, engagement_ids)
    views = []
    for hit in hits:
        turn = turns.get(hit.turn_id)
        if turn is None:
            continue
        pos = position.get(turn.id, turn.seq)
        before = after = None
        if context:
            prev_id = at.get((turn.engagement_id, pos - 1))
            next_id = at.get((turn.engagement_id, pos + 1))
            before = neighbours.get(prev_id) if prev_id is not None else None
            after = neighbours.get(next_id) if next_id is not None else None
        views.append(
            HitView(
                turn=turn,
                seq=pos,
                score=float(hit.score),
                highlight=hit.highlight,
                engagement=infos[turn.engagement_id],
                before=before,
                after=after,
            )
        )
    return views


def _positions(
    session: Session, engagement_ids: set[uuid.UUID]
) -> tuple[dict[int, int], dict[tuple[uuid.UUID, int], int]]:
    """Each turn's 0-based position in its engagement, both ways (ids only, no text)."""
    if not engagement_ids:
        return {}, {}
    pos = (
        func.row_number()
        .over(partition_by=Turn.engagement_id, order_by=(Turn.start_ms, Turn.seq))
        .label("pos")
    )
    rows = session.execute(
        select(Turn.id, Turn.engagement_id, pos).where(Turn.engagement_id.in_(engagement_ids))
    ).all()
    position = {row.id: row.pos - 1 for row in rows}
    at = {(row.engagement_id, row.pos - 1): row.id for row in rows}
    return position, at


def _engagements(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, EngagementInfo]:
    if not ids:
        return {}
    calls = list(session.scalars(select(Engagement).where(Engagement.id.in_(ids))))
    agent_ids = {c.agent_id for c in calls if c.agent_id is not None}
    names = (
        dict(session.execute(select(Agent.id, Agent.name).where(Agent.id.in_(agent_ids))).all())
        if agent_ids
        else {}
    )
    subjects = dict(
        session.execute(
            select(Minutes.engagement_id, Minutes.subject).where(Minutes.engagement_id.in_(ids))
        ).all()
    )
    return {
        c.id: EngagementInfo(
            id=c.id,
            channel=c.channel,
            started_at=c.started_at or c.created_at,
            agent_name=names.get(c.agent_id) if c.agent_id else None,
            customer_id=c.customer_id,
            customer_name=c.customer_name,
            # a ticket's or an email's own subject, else the one the Minutes gave the call
            subject=(c.meta or {}).get("subject") or subjects.get(c.id),
        )
        for c in calls
    }


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)

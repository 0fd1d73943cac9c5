"""JSON API of search: hybrid / semantic / keyword search over every turn the caller may
see, and the turns most like one turn. Thin: parse, call search.hits, serialize."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query

from callscribe.auth.deps import CurrentPrincipal, DbSession
from callscribe.calls.models import Channel, Direction, TurnRole
from callscribe.errors import NotFound, ValidationFailed
from callscribe.kit.pagination import PageNumber
from callscribe.search import hits
from callscribe.search.hits import MAX_QUERY_CHARS, MAX_RESULTS, HitsPage, HitView
from callscribe.search.schemas import SearchEngagementOut, SearchItemOut, SearchResultsOut
from callscribe.search.service import SearchMode, TurnFilter, shown_text

router = APIRouter(prefix="/api", tags=["search"])

MAX_LIMIT = 100
MAX_TURN_ID = 2**31 - 1  # turns.id is a 32-bit integer on PostgreSQL: larger is no turn


def _one_of(values: type) -> str:
    return f"^({'|'.join(v.value for v in values)})$"  # type: ignore[attr-defined]


def item_out(view: HitView) -> SearchItemOut:
    turn = view.turn
    return SearchItemOut(
        turn_id=turn.id,
        engagement_id=turn.engagement_id,
        seq=view.seq,
        role=turn.role,
        speaker=turn.speaker,
        text=shown_text(turn),
        start_ms=turn.start_ms,
        score=view.score,
        highlight=view.highlight,
        engagement=SearchEngagementOut.model_validate(view.engagement),
    )


def results_out(page: HitsPage) -> SearchResultsOut:
    return SearchResultsOut(
        items=[item_out(v) for v in page.hits], total=page.total, took_ms=page.took_ms
    )


def check_query(q: str) -> str:
    """The query as searched; an empty or over-long one is a 422 with a message."""
    text = q.strip()
    if not text:
        raise ValidationFailed("q: type something to search for.")
    if len(text) > MAX_QUERY_CHARS:
        raise ValidationFailed(
            f"q: at most {MAX_QUERY_CHARS:,} characters (this one has {len(text):,})."
        )
    return text


def check_window(page: int, limit: int) -> int:
    offset = (page - 1) * limit
    if offset + limit > MAX_RESULTS:
        raise ValidationFailed(
            f"page: only the first {MAX_RESULTS:,} results are served; narrow the search."
        )
    return offset


@router.get("/search", response_model=SearchResultsOut)
def search(
    principal: CurrentPrincipal,
    session: DbSession,
    # the length is checked by check_query (a message that says the limit, not pydantic's)
    q: Annotated[str, Query(description=f"what to look for (1 to {MAX_QUERY_CHARS} characters)")],
    mode: SearchMode = SearchMode.HYBRID,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
    page: PageNumber = 1,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    channel: Annotated[str | None, Query(pattern=_one_of(Channel))] = None,
    direction: Annotated[str | None, Query(pattern=_one_of(Direction))] = None,
    agent_id: uuid.UUID | None = None,
    team: Annotated[str | None, Query(max_length=100)] = None,
    source: Annotated[str | None, Query(max_length=40)] = None,
    role: Annotated[
        str | None, Query(pattern=_one_of(TurnRole), description="the speaker's role")
    ] = None,
    tag: Annotated[str | None, Query(max_length=100)] = None,
    outcome: Annotated[str | None, Query(max_length=100)] = None,
) -> SearchResultsOut:
    """Every turn of the company's calls, chats, emails and tickets that matches `q`:
    by meaning (`semantic`), by words (`keyword`) or both fused (`hybrid`). An agent
    finds only their own calls' turns."""
    text = check_query(q)
    offset = check_window(page, limit)
    filters = TurnFilter(
        date_from=date_from,
        date_to=date_to,
        channel=channel,
        direction=direction,
        agent_id=agent_id,
        team=team or None,
        source=source or None,
        role=role,
        tag=tag or None,
        outcome=outcome or None,
    )
    found = hits.search(
        session, principal, text, mode=mode, filters=filters, limit=limit, offset=offset
    )
    return results_out(found)


@router.get("/turns/{turn_id}/similar", response_model=SearchResultsOut)
def similar_turns(
    turn_id: Annotated[int, Path(ge=1, le=MAX_TURN_ID)],
    principal: CurrentPrincipal,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 10,
) -> SearchResultsOut:
    """The turns closest in meaning to one turn: never the turn itself, turns of other
    engagements first. 404 for a turn the caller may not see."""
    turn = hits.visible_turn(session, principal, turn_id)
    if turn is None:
        raise NotFound("Turn not found.")
    return results_out(hits.similar(session, principal, turn, limit=limit))

"""JSON API of the journey: a customer's journey (paged by conversation) and prompting
about one engagement."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from callscribe.auth.deps import CurrentPrincipal, DbSession
from callscribe.journey import service
from callscribe.journey.schemas import AskIn, AskOut, JourneyOut, SimilarTurnOut
from callscribe.kit.pagination import PageNumber, PageSize

router = APIRouter(prefix="/api", tags=["journey"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid credentials"},
    404: {"description": "Not found (or not one the principal may see)"},
    422: {"description": "Invalid values"},
    502: {"description": "The AI endpoint failed or refused the key"},
}


@router.get(
    "/customers/{customer_id}/journey",
    response_model=JourneyOut,
    responses=ERRORS,
    summary="A customer's conversations, first to last, with their engagements and turns",
    description=(
        "Conversations in chronological order (oldest first), each with its engagements "
        "and their turns in time order. Paged by conversation: `page` (1-based) and "
        "`page_size` (conversations per page, default 20, at most 200). The response "
        "headers say where the page is: `X-Total-Count` (conversations in the whole "
        "journey), `X-Page`, `X-Page-Size`, and a `Link` with rel=next while there are "
        "more. Agents see only their own engagements, and only customers they handled."
    ),
)
def get_journey(
    customer_id: str,
    principal: CurrentPrincipal,
    session: DbSession,
    response: Response,
    page: PageNumber = 1,
    page_size: PageSize = 20,
) -> JourneyOut:
    found = service.customer_journey(
        session, principal, customer_id, page=page, page_size=page_size
    )
    response.headers["X-Total-Count"] = str(found.total)
    response.headers["X-Page"] = str(page)
    response.headers["X-Page-Size"] = str(page_size)
    if page * page_size < found.total:
        nxt = f"/api/customers/{customer_id}/journey?page={page + 1}&page_size={page_size}"
        response.headers["Link"] = f'<{nxt}>; rel="next"'
    return found.journey


@router.post(
    "/engagements/{engagement_id}/ask",
    response_model=AskOut,
    responses=ERRORS,
    summary="Ask anything about one engagement (concise or detailed)",
    description=(
        "With an AI endpoint configured (Settings -> AI & speech) the LLM answers from "
        "the engagement's transcript (`engine: llm`); otherwise the local engine answers "
        "extractively with the engagement's own turns that match the prompt best "
        "(`engine: local`). `sources` are the ids of the turns the answer rests on."
    ),
)
def ask(engagement_id: str, body: AskIn, principal: CurrentPrincipal, session: DbSession) -> AskOut:
    return service.ask(session, principal, engagement_id, body.prompt, body.detail)


@router.get(
    "/journey/turns/{turn_id}/similar",
    responses=ERRORS,
    summary="Turns like this one (the journey's action pane; answered by search)",
    response_model=list[SimilarTurnOut],
)
def similar_turns(
    turn_id: Annotated[int, Path(ge=1, le=2**31 - 1, description="A turn id")],
    principal: CurrentPrincipal,
    session: DbSession,
) -> list[SimilarTurnOut]:
    return service.similar_turns(session, principal, turn_id)

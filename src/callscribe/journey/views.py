"""The journey page (`/customers/{id}/journey`) and the customers list that leads to
it. The page renders the navigation pane (every conversation and engagement, no
turns); static/js/journey.js loads the conversations pane page by page from the API."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from starlette.responses import Response

from callscribe.auth.deps import DbSession, PageUser
from callscribe.crm import service as crm
from callscribe.errors import NotFound
from callscribe.journey import service
from callscribe.web.templating import render

router = APIRouter(include_in_schema=False)

PANE_PAGE_SIZE = 20  # conversations the middle pane loads at a time
CUSTOMERS_PAGE_SIZE = 50


@router.get("/customers")
def customers_page(
    request: Request, user: PageUser, session: DbSession, page: int = 1, q: str = ""
) -> Response:
    page = min(max(page, 1), 100_000)
    found = crm.list_customers(
        session, user.principal.company_id, q.strip()[:200] or None, page, CUSTOMERS_PAGE_SIZE
    )
    return render(request, "journey/customers.html", found=found, q=q)


@router.get("/customers/{customer_id}/journey")
def journey_page(
    request: Request,
    customer_id: str,
    user: PageUser,
    session: DbSession,
    engagement: str = "",
    turn: str = "",
) -> Response:
    try:
        outline = service.journey_outline(session, user.principal, customer_id)
    except NotFound:
        return render(
            request,
            "error.html",
            status_code=404,
            title="Customer not found",
            message="There is no such customer, or none whose journey you can see.",
        )
    target = None
    try:
        target = uuid.UUID(engagement) if engagement else None
    except ValueError:
        target = None
    return render(
        request,
        "journey/journey.html",
        outline=outline,
        customer_label=service.shown_label(outline.customer, user.principal),
        page_size=PANE_PAGE_SIZE,
        target_engagement=str(target) if target else "",
        target_turn=turn if turn.isdigit() else "",
    )

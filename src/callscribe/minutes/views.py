"""Pages of Minutes: every action item across calls, and the done/open toggle."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from callscribe.accounts import service as accounts
from callscribe.accounts.models import Agent
from callscribe.calls import service as calls
from callscribe.calls.models import Engagement
from callscribe.errors import NotFound
from callscribe.kit.filters import EngagementFilter
from callscribe.kit.schemas import MAX_PAGE
from callscribe.minutes.models import ActionItem, ActionItemStatus, Minutes, Priority
from callscribe.web.deps import get_session
from callscribe.web.templating import CurrentUser, render, require_user

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50


def _day(value: str | None, *, end: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        return None
    moment = datetime.combine(day, time.min, tzinfo=UTC)
    return moment + timedelta(days=1) - timedelta(microseconds=1) if end else moment


def _call_info(session: Session, items: list[ActionItem]) -> dict[uuid.UUID, dict[str, Any]]:
    """Subject, customer and agent of each item's call, for the table."""
    ids = {i.engagement_id for i in items}
    if not ids:
        return {}
    engagements = {e.id: e for e in session.query(Engagement).filter(Engagement.id.in_(ids))}
    subjects = dict(
        session.query(Minutes.engagement_id, Minutes.subject).filter(Minutes.engagement_id.in_(ids))
    )
    agent_ids = {e.agent_id for e in engagements.values() if e.agent_id}
    agents = (
        {a.id: a.name for a in session.query(Agent).filter(Agent.id.in_(agent_ids))}
        if agent_ids
        else {}
    )
    info = {}
    for call_id, call in engagements.items():
        info[call_id] = {
            "subject": subjects.get(call_id) or call.customer_name or f"Call {str(call_id)[:8]}",
            "customer": call.customer_name,
            "agent": agents.get(call.agent_id) if call.agent_id else None,
            "when": call.started_at or call.created_at,
        }
    return info


@router.get("/action-items")
def action_items_page(
    request: Request,
    page: int = 1,
    user: CurrentUser = Depends(require_user),
    session: Session = Depends(get_session),
) -> Response:
    q = request.query_params
    filters = {
        k: q.get(k, "").strip()
        for k in ("status", "priority", "agent_id", "date_from", "date_to")
        if q.get(k, "").strip()
    }
    if "status" not in q:
        filters["status"] = ActionItemStatus.OPEN  # what is left to do, unless asked otherwise
    status = filters.get("status")
    try:
        agent_id = uuid.UUID(filters["agent_id"]) if filters.get("agent_id") else None
    except ValueError:
        agent_id = None
    query = calls.ActionItemFilters(
        status=status if status in set(ActionItemStatus) else None,
        priority=filters.get("priority") if filters.get("priority") in set(Priority) else None,
        date_from=_day(filters.get("date_from")),
        date_to=_day(filters.get("date_to"), end=True),
        calls=EngagementFilter(agent_id=agent_id),
    )
    page = min(max(1, page), MAX_PAGE)
    found = calls.list_action_items(session, user.principal, query, page, PAGE_SIZE)
    items, total, pages = found.items, found.total, found.pages

    def qs(**overrides: Any) -> str:
        merged = {**filters, "status": filters.get("status", ""), **overrides}
        return urlencode({k: v for k, v in merged.items() if v not in (None,)})

    ctx: dict[str, Any] = {
        "items": items,
        "info": _call_info(session, items),
        "filters": filters,
        "total": total,
        "page": page,
        "pages": pages,
        "qs": qs,
    }
    if request.headers.get("hx-request") and request.headers.get("hx-target") == "items-table":
        return render(request, "minutes/_items_table.html", **ctx)
    agents = (
        [] if user.principal.sees_only_own_calls else accounts.list_agents(session, user.company_id)
    )
    return render(request, "minutes/action_items.html", agents=agents, **ctx)


@router.post("/action-items/{item_id}/toggle")
def toggle_action_item(
    request: Request,
    item_id: uuid.UUID,
    layout: str = Form("li"),
    user: CurrentUser = Depends(require_user),
    session: Session = Depends(get_session),
) -> Response:
    """Flip an item between open and done; answers the item's new markup (htmx)."""
    item = session.get(ActionItem, item_id)
    if item is None or item.company_id != user.company_id:
        return Response("Action item not found.", status_code=404)
    try:
        item = calls.update_action_item(
            session,
            user.principal,
            item_id,
            status=ActionItemStatus.OPEN
            if item.status == ActionItemStatus.DONE
            else ActionItemStatus.DONE,
        )
    except NotFound:
        return Response("Action item not found.", status_code=404)
    session.commit()
    if layout == "row":
        return render(
            request,
            "minutes/_item_row.html",
            item=item,
            info=_call_info(session, [item]),
        )
    return render(request, "minutes/_action_item.html", item=item)

"""The Search page: a box, the mode switch, the filters, and results with the match
highlighted and the turns before and after it; each result opens the call page at that
turn. Results are rendered here (htmx swaps them in as the form changes; without
JavaScript the form is a plain GET)."""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from markupsafe import Markup, escape
from starlette.responses import Response

from callscribe.accounts import service as accounts
from callscribe.auth.deps import DbSession, PageUser
from callscribe.calls.models import Channel, Direction, TurnRole
from callscribe.errors import CallscribeError
from callscribe.search import hits
from callscribe.search.hits import MAX_QUERY_CHARS, MAX_RESULTS
from callscribe.search.service import SearchMode, TurnFilter, shown_text
from callscribe.web.templating import render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 20
FILTER_KEYS = (
    "date_from",
    "date_to",
    "channel",
    "direction",
    "agent_id",
    "team",
    "source",
    "role",
    "tag",
    "outcome",
)
_MARK = re.compile(r"(</?mark>)")


def safe_highlight(highlight: str) -> Markup:
    """The index's highlight (escaped text with <mark> around the matches) made safe
    whatever it holds: every part but the mark tags is unescaped and escaped again, and
    the tags are kept only where they open and close in turn."""
    out: list[str] = []
    open_ = False
    for part in _MARK.split(highlight):
        if part == "<mark>" and not open_:
            out.append("<mark>")
            open_ = True
        elif part == "</mark>" and open_:
            out.append("</mark>")
            open_ = False
        elif part not in ("<mark>", "</mark>"):
            out.append(str(escape(html.unescape(part))))
    if open_:
        out.append("</mark>")
    return Markup("".join(out))


def _day(value: str, *, end: bool = False) -> datetime | None:
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        return None
    moment = datetime.combine(day, time.min, tzinfo=UTC)
    return moment + timedelta(days=1) - timedelta(microseconds=1) if end else moment


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _choice(value: str, allowed: type) -> str | None:
    return value if value in {v.value for v in allowed} else None  # type: ignore[attr-defined]


def turn_filter(form: dict[str, str]) -> TurnFilter:
    """The page's filters; a value that does not parse is ignored (the form offers
    only valid ones)."""
    return TurnFilter(
        date_from=_day(form["date_from"]) if form.get("date_from") else None,
        date_to=_day(form["date_to"], end=True) if form.get("date_to") else None,
        channel=_choice(form.get("channel", ""), Channel),
        direction=_choice(form.get("direction", ""), Direction),
        agent_id=_uuid(form["agent_id"]) if form.get("agent_id") else None,
        team=form.get("team", "")[:100] or None,
        source=form.get("source", "")[:40] or None,
        role=_choice(form.get("role", ""), TurnRole),
        tag=form.get("tag", "")[:100] or None,
        outcome=form.get("outcome", "")[:100] or None,
    )


@router.get("/search")
def search_page(request: Request, user: PageUser, session: DbSession, page: int = 1) -> Response:
    params = request.query_params
    q = params.get("q", "").strip()
    mode = params.get("mode", SearchMode.HYBRID.value)
    if mode not in {m.value for m in SearchMode}:
        mode = SearchMode.HYBRID.value
    form = {k: params.get(k, "").strip() for k in FILTER_KEYS if params.get(k, "").strip()}
    page = max(1, page)
    ctx: dict[str, Any] = {
        "shown_text": shown_text,
        "q": q,
        "mode": mode,
        "modes": list(SearchMode),
        "form": form,
        "page": page,
        "results": None,
        "error": None,
        "qs": lambda **over: urlencode(
            {k: v for k, v in {"q": q, "mode": mode, **form, **over}.items() if v not in ("", None)}
        ),
        "highlight": safe_highlight,
    }
    if len(q) > MAX_QUERY_CHARS:
        ctx["error"] = f"A search is at most {MAX_QUERY_CHARS:,} characters."
    elif (page - 1) * PAGE_SIZE + PAGE_SIZE > MAX_RESULTS:
        ctx["error"] = f"Only the first {MAX_RESULTS:,} results are shown; narrow the search."
    elif q:
        try:
            ctx["results"] = hits.search(
                session,
                user.principal,
                q,
                mode=SearchMode(mode),
                filters=turn_filter(form),
                limit=PAGE_SIZE,
                offset=(page - 1) * PAGE_SIZE,
                context=True,
            )
        except CallscribeError as exc:  # e.g. the company's embedding endpoint is down
            ctx["error"] = exc.message
        ctx["pages"] = max(
            1, -(-min(ctx["results"].total if ctx["results"] else 0, MAX_RESULTS) // PAGE_SIZE)
        )
    if request.headers.get("hx-request") and request.headers.get("hx-target") == "search-results":
        return render(request, "search/_results.html", **ctx)
    ctx["agents"] = (
        [] if user.principal.sees_only_own_calls else accounts.list_agents(session, user.company_id)
    )
    return render(
        request,
        "search/search.html",
        channels=list(Channel),
        directions=list(Direction),
        roles=list(TurnRole),
        **ctx,
    )

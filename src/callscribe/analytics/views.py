"""Analytics pages: dashboards (the user's default view applied on open), the
visualization list (Built-in / Shared / Favorites, search), one visualization with its
table and CSV, the metric editor, the engagements behind a segment, an agent's profile,
and the technical log for admins. Charts are drawn by static/js/analytics.js from the
tables the page renders (the vendored Chart.js)."""

from __future__ import annotations

import csv
import io
import json
import uuid
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from callscribe.accounts import service as accounts
from callscribe.analytics import service
from callscribe.analytics.metrics import FIELD_NAMES
from callscribe.analytics.models import ChartType
from callscribe.analytics.schemas import VisualizationIn
from callscribe.auth.deps import AdminUser, DbSession, PageUser
from callscribe.errors import CallscribeError, from_validation
from callscribe.kit.filters import EngagementFilter
from callscribe.web.flash import flash
from callscribe.web.templating import redirect, render

router = APIRouter(include_in_schema=False)

FILTER_FIELDS = (
    "date_from",
    "date_to",
    "source",
    "location",
    "direction",
    "channel",
    "engaged_department",
    "queue",
    "engaged_team",
    "agent_id",
    "outcome",
    "tag",
    "reviewed",
)


def _requested(request: Request, session: Any, user: Any, dashboard: str) -> dict[str, Any]:
    """The query string's filter, under a dashboard's hidden and locked filters when
    the link came from one."""
    flt = _filter_from_query(request)
    if dashboard:
        dash = service.get_dashboard(session, user.principal, dashboard[:60])
        flt = service.effective_filter(dash, flt)
    return flt


def _filter_from_query(request: Request) -> dict[str, Any]:
    return {
        k: v[:200]
        for k in FILTER_FIELDS
        if (v := request.query_params.get(k, "").strip()) and k in EngagementFilter.model_fields
    }


@router.get("/analytics")
def dashboards_page(request: Request, user: PageUser, session: DbSession) -> Response:
    found = service.list_dashboards(session, user.principal)
    return render(request, "analytics/dashboards.html", dashboards=found)


@router.get("/analytics/dashboards/{dash_id}")
def dashboard_page(
    request: Request, user: PageUser, session: DbSession, dash_id: str, view: str = ""
) -> Response:
    requested = _filter_from_query(request)
    applied_view = None
    if view:
        applied_view = service.get_view(session, user.principal, view)
    elif not requested and request.query_params.get("reset") != "1":
        applied_view = service.default_view(session, user.principal, dash_id)
    if applied_view is not None:
        requested = dict(applied_view.filters)
    dash, flt, tiles = service.query_dashboard(session, user.principal, dash_id, requested)
    agents = accounts.list_agents(session, user.company_id)
    if user.principal.sees_only_own_calls:
        agents = [a for a in agents if a.id == user.agent_id]
    return render(
        request,
        "analytics/dashboard.html",
        dash=dash,
        flt=service.shown_filters(dash, flt),
        locked=dash.locked_filters,
        tiles=tiles,
        views=service.list_views(session, user.principal, dash.id),
        applied_view=applied_view,
        agents=agents,
        arranging=not dash.builtin and user.role in ("admin", "manager"),
        all_vis=service.list_visualizations(session, user.principal)
        if not dash.builtin and user.role in ("admin", "manager")
        else [],
        filter_fields=FILTER_FIELDS,
        filter_json=json.dumps(service.shown_filters(dash, flt)),
        # drill-down links carry the shown filters and the dashboard, whose hidden and
        # locked filters the engagements page applies again
        filter_qs="".join(
            f"&{quote(k)}={quote(str(v))}" for k, v in service.shown_filters(dash, flt).items()
        )
        + f"&dashboard={quote(dash.id)}",
    )


@router.get("/analytics/visualizations")
def visualizations_page(
    request: Request, user: PageUser, session: DbSession, q: str = ""
) -> Response:
    items = service.list_visualizations(session, user.principal, q.strip()[:100] or None)
    return render(
        request,
        "analytics/visualizations.html",
        builtin=[i for i in items if i.builtin],
        shared=[i for i in items if not i.builtin],
        favorites=[i for i in items if i.favorite],
        q=q,
        vis=None,
        **_editor(session, user),
    )


@router.get("/analytics/visualizations/{vis_id}.csv")
def visualization_csv(
    request: Request, user: PageUser, session: DbSession, vis_id: str, dashboard: str = ""
) -> Response:
    vis = service.get_visualization(session, user.principal, vis_id)
    flt = _requested(request, session, user, dashboard)
    result = service.query_visualization(session, user.principal, vis, flt)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(result.columns)
    for row in result.rows:
        # a cell starting with = + - @ is text to a spreadsheet, never a formula
        writer.writerow([f"'{v}" if isinstance(v, str) and v[:1] in "=+-@" else v for v in row])
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{vis.id}.csv"'},
    )


@router.get("/analytics/visualizations/{vis_id}")
def visualization_page(
    request: Request, user: PageUser, session: DbSession, vis_id: str
) -> Response:
    vis = service.get_visualization(session, user.principal, vis_id)
    result = service.query_visualization(session, user.principal, vis, _filter_from_query(request))
    return render(
        request, "analytics/visualization.html", vis=vis, result=result, **_editor(session, user)
    )


def _editor(session: Any, user: Any) -> dict[str, Any]:
    """What the visualization editor offers: the metrics, the group-by names and chart
    types; `editor` False for users who may not change shared analytics."""
    editor = user.role in ("admin", "manager")
    return {
        "editor": editor,
        "catalog": service.metric_catalog(session, user.company_id) if editor else [],
        "group_names": [g for g in service.GROUPS if g != "attributes.<name>"],
        "charts": ChartType.ALL,
        "vis_filter_fields": VIS_FILTER_FIELDS,
    }


# the filters a visualization keeps of its own (a dashboard's override them): not the
# dates, the agent or the reviewed switch, which belong to whoever looks
VIS_FILTER_FIELDS = tuple(
    f for f in FILTER_FIELDS if f not in ("date_from", "date_to", "agent_id", "reviewed")
)


async def _definition(request: Request) -> dict[str, Any]:
    form = await request.form()
    group_by = [str(g).strip() for g in form.getlist("group_by") if str(g).strip()]
    extra = str(form.get("group_attribute") or "").strip()
    if extra:
        group_by.append(extra if extra.startswith("attributes.") else f"attributes.{extra}")
    return {
        "name": str(form.get("name") or "").strip()[:200],
        "chart": str(form.get("chart") or "table"),
        "metrics": [str(m) for m in form.getlist("metrics") if str(m)],
        "group_by": list(dict.fromkeys(group_by)),
        "filters": {
            k: str(v).strip()[:200]
            for k in VIS_FILTER_FIELDS
            if (v := form.get(f"filter_{k}")) and str(v).strip()
        },
    }


def _save(request: Request, session: Any, user: Any, vis_id: str | None, body: dict[str, Any]):  # type: ignore[no-untyped-def]
    try:
        checked = VisualizationIn.model_validate(body)
        service.parse_filter(checked.filters)
        vis = service.save_visualization(
            session, user.principal, vis_id=vis_id, **checked.model_dump()
        )
    except ValidationError as exc:
        flash(request, from_validation(exc).message, "error")
        return None
    except CallscribeError as exc:
        flash(request, exc.message, "error")
        return None
    session.commit()
    return vis


@router.post("/analytics/visualizations")
async def create_visualization_page(
    request: Request, user: PageUser, session: DbSession
) -> Response:
    vis = _save(request, session, user, None, await _definition(request))
    if vis is None:
        return redirect(request, "/analytics/visualizations")
    flash(request, f"Visualization {vis.name!r} made.")
    return redirect(request, f"/analytics/visualizations/{vis.id}")


@router.post("/analytics/visualizations/{vis_id}")
async def update_visualization_page(
    request: Request, user: PageUser, session: DbSession, vis_id: str
) -> Response:
    vis = _save(request, session, user, vis_id, await _definition(request))
    if vis is not None:
        flash(request, f"Visualization {vis.name!r} saved.")
    return redirect(request, f"/analytics/visualizations/{vis_id}")


@router.post("/analytics/visualizations/{vis_id}/delete")
def delete_visualization_page(
    request: Request, user: PageUser, session: DbSession, vis_id: str
) -> Response:
    try:
        vis = service.get_visualization(session, user.principal, vis_id)
        service.delete_visualization(session, user.principal, vis_id)
    except CallscribeError as exc:
        flash(request, exc.message, "error")
        return redirect(request, f"/analytics/visualizations/{vis_id}")
    session.commit()
    flash(request, f"Visualization {vis.name!r} deleted.")
    return redirect(request, "/analytics/visualizations")


@router.get("/analytics/metrics")
def metrics_page(request: Request, user: PageUser, session: DbSession) -> Response:
    return render(
        request,
        "analytics/metrics.html",
        metrics=service.metric_catalog(session, user.company_id),
        fields=FIELD_NAMES,
    )


@router.get("/analytics/engagements")
def engagements_page(
    request: Request,
    user: PageUser,
    session: DbSession,
    segment: str = "",
    dashboard: str = "",
    visualization: str = "",
    selection: str = "",
) -> Response:
    if selection:  # a saved selection: its engagements as they were saved
        saved = service.get_selection(session, user.principal, selection[:60])
        ids = [uuid.UUID(i) for i in saved.engagement_ids]
        found = service.engagements_behind(
            session, user.principal, service.parse_filter({}), {}, ids=ids, limit=1000
        )
        return render(
            request,
            "analytics/engagements.html",
            found=found,
            segment={},
            selection=saved,
            payload=json.dumps({"filter": {}, "segment": {}}),
        )
    try:
        seg = json.loads(segment) if segment else {}
    except ValueError:
        seg = {}
    if not isinstance(seg, dict):
        seg = {}
    flt = _requested(request, session, user, dashboard)
    if visualization:  # the tile's own filters, under the dashboard's
        vis = service.get_visualization(session, user.principal, visualization)
        flt = {**vis.filters, **flt}
    found = service.engagements_behind(session, user.principal, service.parse_filter(flt), seg)
    return render(
        request,
        "analytics/engagements.html",
        found=found,
        segment=seg,
        payload=json.dumps({"filter": flt, "segment": seg}),
    )


@router.get("/analytics/selections")
def selections_page(request: Request, user: PageUser, session: DbSession) -> Response:
    found = service.list_selections(session, user.principal)
    return render(request, "analytics/selections.html", selections=found)


@router.get("/analytics/agents/{agent_id}")
def agent_page(request: Request, user: PageUser, session: DbSession, agent_id: str) -> Response:
    agent = service.agent_for_profile(session, user.principal, agent_id)
    flt = service.parse_filter({"agent_id": str(agent.id)})
    names = [
        "engagements",
        "avg_handle_time_s",
        "talk_ratio_agent",
        "silence_share",
        "first_contact_resolution",
        "sentiment_positive_share",
        "review_coverage",
        "avg_qa_score",
        "ai_flagged_share",
    ]
    result = service.run_query(session, user.principal, names, [], flt)
    recent = service.engagements_behind(session, user.principal, flt, {}, limit=20)
    reviews = service.agent_reviews(session, user.principal, agent.id, limit=20)
    return render(
        request,
        "analytics/agent.html",
        agent=agent,
        result=result,
        recent=recent,
        reviews=reviews,
    )


@router.get("/settings/technical-log")
def technical_log_page(
    request: Request, user: AdminUser, session: DbSession, level: str = "", data_set: str = ""
) -> Response:
    rows = accounts.list_technical_log(session, user.company_id, limit=500)
    if level:
        rows = [r for r in rows if r.level == level]
    if data_set:
        rows = [r for r in rows if r.data_set == data_set]
    return render(
        request, "analytics/technical_log.html", rows=rows, level=level, data_set=data_set
    )

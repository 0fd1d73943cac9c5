"""JSON API of analytics: /api/metrics, /api/visualizations, /api/dashboards,
/api/views (the caller's own only), /api/selections."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from callscribe.analytics import schemas as s
from callscribe.analytics import service
from callscribe.auth.deps import CurrentPrincipal, DbSession

router = APIRouter(prefix="/api", tags=["analytics"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid credentials"},
    403: {"description": "The role may not change shared analytics, or a fixed filter"},
    404: {"description": "Not found (or not one the caller may see)"},
    409: {"description": "The name is taken"},
    422: {
        "description": "Invalid values; an invalid expression answers "
        '`{"success": false, "error": {"code": "invalid_expression", "message", "position"}}`'
    },
}


@router.get("/metrics", response_model=s.MetricList, responses=ERRORS, summary="Every metric")
def list_metrics(principal: CurrentPrincipal, session: DbSession) -> s.MetricList:
    items = service.metric_catalog(session, principal.company_id)
    return s.MetricList(items=[s.MetricOut.model_validate(i) for i in items])


@router.post(
    "/metrics",
    status_code=201,
    response_model=s.MetricOut,
    responses=ERRORS,
    summary="Create a custom metric from an expression",
    description=(
        "Aggregates COUNT, SUM, AVG, MIN, MAX, COUNT_DISTINCT, MEDIAN over `engagement`, "
        "`customer`, `agent`, `conversation`, durations (`talk_s`, `hold_s`, `wait_s`, "
        "`wrapup_s`, `duration_s`) and `facts.<name>`; + - * /; other metrics by name; "
        "WHERE on `channel`, `direction`, `source`, `queue`, `location`, `engaged_team`, "
        "`engaged_department`, `status`, `outcome`, `sentiment`, `attributes.<name>` and "
        "numbers, with AND, OR, NOT. Metrics cannot be filters."
    ),
)
def create_metric(body: s.MetricIn, principal: CurrentPrincipal, session: DbSession) -> s.MetricOut:
    row = service.create_metric(session, principal, **body.model_dump())
    session.commit()
    return s.MetricOut(
        name=row.name, label=row.label, unit=row.unit, builtin=False, expression=row.expression
    )


@router.delete("/metrics/{name}", status_code=204, responses=ERRORS, summary="Delete a metric")
def delete_metric(name: str, principal: CurrentPrincipal, session: DbSession) -> Response:
    service.delete_metric(session, principal, name)
    session.commit()
    return Response(status_code=204)


@router.post(
    "/metrics/query",
    response_model=s.QueryOut,
    responses=ERRORS,
    summary="Metrics grouped by attributes, over a filter",
    description=(
        "`group_by`: agent (by name), channel, direction, source, queue, location, "
        "engaged_team, engaged_department, status, outcome, sentiment, date:day, "
        "date:week, date:month (UTC; weeks start on Monday), attributes.<name>. Columns: "
        "the group-by names first, then the metrics in the order asked. Technical "
        "engagements are left out unless `filter.technical` is true. Agents see only "
        "their own engagements."
    ),
)
def query(body: s.QueryIn, principal: CurrentPrincipal, session: DbSession) -> s.QueryOut:
    result = service.run_query(
        session, principal, body.metrics, body.group_by, service.parse_filter(body.filter)
    )
    return s.QueryOut(columns=result.columns, rows=result.rows)


@router.post(
    "/metrics/engagements",
    response_model=s.EngagementList,
    responses=ERRORS,
    summary="The engagements behind a segment (drill-down)",
)
def engagements(
    body: s.EngagementsIn, principal: CurrentPrincipal, session: DbSession
) -> s.EngagementList:
    found = service.engagements_behind(
        session, principal, service.parse_filter(body.filter), body.segment
    )
    return s.EngagementList(items=[s.EngagementOut.model_validate(e) for e in found])


@router.post("/metrics/ask", responses=ERRORS, summary="Ask about a list of engagements")
def ask(body: s.AskIn, principal: CurrentPrincipal, session: DbSession) -> dict[str, Any]:
    return service.ask_engagements(session, principal, body.engagement_ids, body.prompt)


# -- visualizations ----------------------------------------------------------------------


@router.get("/visualizations", response_model=s.VisualizationList, responses=ERRORS)
def list_visualizations(
    principal: CurrentPrincipal, session: DbSession, q: str = ""
) -> s.VisualizationList:
    items = service.list_visualizations(session, principal, q.strip()[:100] or None)
    return s.VisualizationList(items=[s.VisualizationOut.model_validate(i) for i in items])


@router.post(
    "/visualizations", status_code=201, response_model=s.VisualizationOut, responses=ERRORS
)
def create_visualization(
    body: s.VisualizationIn, principal: CurrentPrincipal, session: DbSession
) -> s.VisualizationOut:
    info = service.save_visualization(session, principal, vis_id=None, **body.model_dump())
    session.commit()
    return s.VisualizationOut.model_validate(info)


@router.get("/visualizations/{vis_id}", response_model=s.VisualizationOut, responses=ERRORS)
def get_visualization(
    vis_id: str, principal: CurrentPrincipal, session: DbSession
) -> s.VisualizationOut:
    return s.VisualizationOut.model_validate(service.get_visualization(session, principal, vis_id))


@router.put("/visualizations/{vis_id}", response_model=s.VisualizationOut, responses=ERRORS)
def update_visualization(
    vis_id: str, body: s.VisualizationIn, principal: CurrentPrincipal, session: DbSession
) -> s.VisualizationOut:
    info = service.save_visualization(session, principal, vis_id=vis_id, **body.model_dump())
    session.commit()
    return s.VisualizationOut.model_validate(info)


@router.delete("/visualizations/{vis_id}", status_code=204, responses=ERRORS)
def delete_visualization(vis_id: str, principal: CurrentPrincipal, session: DbSession) -> Response:
    service.delete_visualization(session, principal, vis_id)
    session.commit()
    return Response(status_code=204)


@router.post(
    "/visualizations/{vis_id}/copy",
    status_code=201,
    response_model=s.VisualizationOut,
    responses=ERRORS,
    summary="Save as new (a built-in or shared one, copied into the company's own)",
)
def copy_visualization(
    vis_id: str, body: s.CopyIn, principal: CurrentPrincipal, session: DbSession
) -> s.VisualizationOut:
    info = service.copy_visualization(session, principal, vis_id, body.name)
    session.commit()
    return s.VisualizationOut.model_validate(info)


@router.put("/visualizations/{vis_id}/favorite", status_code=204, responses=ERRORS)
def favorite(vis_id: str, principal: CurrentPrincipal, session: DbSession) -> Response:
    service.set_favorite(session, principal, vis_id, True)
    session.commit()
    return Response(status_code=204)


@router.delete("/visualizations/{vis_id}/favorite", status_code=204, responses=ERRORS)
def unfavorite(vis_id: str, principal: CurrentPrincipal, session: DbSession) -> Response:
    service.set_favorite(session, principal, vis_id, False)
    session.commit()
    return Response(status_code=204)


@router.post("/visualizations/{vis_id}/query", response_model=s.TileOut, responses=ERRORS)
def query_visualization(
    vis_id: str, body: s.FilterIn, principal: CurrentPrincipal, session: DbSession
) -> s.TileOut:
    vis = service.get_visualization(session, principal, vis_id)
    result = service.query_visualization(session, principal, vis, body.filter)
    return s.TileOut(
        visualization=s.VisualizationOut.model_validate(vis),
        columns=result.columns,
        rows=result.rows,
        keys=result.keys,
    )


# -- dashboards --------------------------------------------------------------------------


@router.get("/dashboards", response_model=s.DashboardList, responses=ERRORS)
def list_dashboards(principal: CurrentPrincipal, session: DbSession) -> s.DashboardList:
    items = service.list_dashboards(session, principal)
    return s.DashboardList(items=[s.DashboardOut.model_validate(d) for d in items])


@router.post("/dashboards", status_code=201, response_model=s.DashboardOut, responses=ERRORS)
def create_dashboard(
    body: s.DashboardIn, principal: CurrentPrincipal, session: DbSession
) -> s.DashboardOut:
    info = service.save_dashboard(session, principal, dash_id=None, **_dash_body(body))
    session.commit()
    return s.DashboardOut.model_validate(info)


def _dash_body(body: s.DashboardIn) -> dict[str, Any]:
    data = body.model_dump()
    data["items"] = [i.model_dump() for i in body.items]
    return data


@router.get("/dashboards/{dash_id}", response_model=s.DashboardOut, responses=ERRORS)
def get_dashboard(dash_id: str, principal: CurrentPrincipal, session: DbSession) -> s.DashboardOut:
    return s.DashboardOut.model_validate(service.get_dashboard(session, principal, dash_id))


@router.put("/dashboards/{dash_id}", response_model=s.DashboardOut, responses=ERRORS)
def update_dashboard(
    dash_id: str, body: s.DashboardIn, principal: CurrentPrincipal, session: DbSession
) -> s.DashboardOut:
    info = service.save_dashboard(session, principal, dash_id=dash_id, **_dash_body(body))
    session.commit()
    return s.DashboardOut.model_validate(info)


@router.delete("/dashboards/{dash_id}", status_code=204, responses=ERRORS)
def delete_dashboard(dash_id: str, principal: CurrentPrincipal, session: DbSession) -> Response:
    service.delete_dashboard(session, principal, dash_id)
    session.commit()
    return Response(status_code=204)


@router.post(
    "/dashboards/{dash_id}/copy", status_code=201, response_model=s.DashboardOut, responses=ERRORS
)
def copy_dashboard(
    dash_id: str, body: s.CopyIn, principal: CurrentPrincipal, session: DbSession
) -> s.DashboardOut:
    info = service.copy_dashboard(session, principal, dash_id, body.name)
    session.commit()
    return s.DashboardOut.model_validate(info)


@router.post(
    "/dashboards/{dash_id}/query",
    response_model=s.DashboardData,
    responses=ERRORS,
    summary="Every tile's data under the dashboard's filters",
    description=(
        "`filter` overrides each visualization's own filters. Locked and hidden filters "
        "always apply; a filter that tries to change one is refused with 403."
    ),
)
def query_dashboard(
    dash_id: str, body: s.FilterIn, principal: CurrentPrincipal, session: DbSession
) -> s.DashboardData:
    dash, flt, tiles = service.query_dashboard(session, principal, dash_id, body.filter)
    return s.DashboardData(
        dashboard=s.DashboardOut.model_validate(dash),
        filter=service.shown_filters(dash, flt),
        tiles=[
            s.TileOut(
                visualization=s.VisualizationOut.model_validate(t.visualization),
                columns=t.result.columns,
                rows=t.result.rows,
                keys=t.result.keys,
            )
            for t in tiles
        ],
    )


# -- views (the caller's own) ------------------------------------------------------------


@router.get("/views", response_model=s.ViewList, responses=ERRORS, summary="My saved views")
def list_views(principal: CurrentPrincipal, session: DbSession, dashboard: str = "") -> s.ViewList:
    rows = service.list_views(session, principal, dashboard[:60] or None)
    return s.ViewList(items=[s.ViewOut.model_validate(r) for r in rows])


@router.post("/views", status_code=201, response_model=s.ViewOut, responses=ERRORS)
def create_view(body: s.ViewIn, principal: CurrentPrincipal, session: DbSession) -> s.ViewOut:
    row = service.save_view(session, principal, **body.model_dump())
    session.commit()
    return s.ViewOut.model_validate(row)


@router.get("/views/{view_id}", response_model=s.ViewOut, responses=ERRORS)
def get_view(view_id: str, principal: CurrentPrincipal, session: DbSession) -> s.ViewOut:
    return s.ViewOut.model_validate(service.get_view(session, principal, view_id))


@router.put("/views/{view_id}/default", response_model=s.ViewOut, responses=ERRORS)
def set_default(view_id: str, principal: CurrentPrincipal, session: DbSession) -> s.ViewOut:
    row = service.set_default_view(session, principal, view_id)
    session.commit()
    return s.ViewOut.model_validate(row)


@router.delete("/views/{view_id}", status_code=204, responses=ERRORS)
def delete_view(view_id: str, principal: CurrentPrincipal, session: DbSession) -> Response:
    service.delete_view(session, principal, view_id)
    session.commit()
    return Response(status_code=204)


# -- selections --------------------------------------------------------------------------


@router.get("/selections", response_model=s.SelectionList, responses=ERRORS)
def list_selections(principal: CurrentPrincipal, session: DbSession) -> s.SelectionList:
    rows = service.list_selections(session, principal)
    return s.SelectionList(items=[s.SelectionOut.model_validate(r) for r in rows])


@router.post(
    "/selections",
    status_code=201,
    response_model=s.SelectionOut,
    responses=ERRORS,
    summary="Save the engagements behind a filter and segment, as they are now",
)
def create_selection(
    body: s.SelectionIn, principal: CurrentPrincipal, session: DbSession
) -> s.SelectionOut:
    row = service.create_selection(
        session, principal, name=body.name, filters=body.filter, segment=body.segment
    )
    session.commit()
    return s.SelectionOut.model_validate(row)


@router.get("/selections/{selection_id}", response_model=s.SelectionOut, responses=ERRORS)
def get_selection(
    selection_id: str, principal: CurrentPrincipal, session: DbSession
) -> s.SelectionOut:
    return s.SelectionOut.model_validate(service.get_selection(session, principal, selection_id))


@router.delete("/selections/{selection_id}", status_code=204, responses=ERRORS)
def delete_selection(
    selection_id: str, principal: CurrentPrincipal, session: DbSession
) -> Response:
    service.delete_selection(session, principal, selection_id)
    session.commit()
    return Response(status_code=204)

"""Analytics operations: the metric catalog, queries (metrics x groups x filter),
custom metrics, visualizations, dashboards (with hidden and locked filters), saved
views (per user), favorites and selections. No HTTP here."""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Select, false, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from callscribe.accounts.models import Agent
from callscribe.analytics import builtins, readmodel
from callscribe.analytics.expression import nodes
from callscribe.analytics.expression.compiler import compile_value, metric_refs
from callscribe.analytics.expression.parser import parse
from callscribe.analytics.expression.sql import date_bucket, register_sqlite_functions
from callscribe.analytics.metrics import (
    BUILTIN_BY_NAME,
    BUILTINS,
    Frame,
    reviewed_engagement,
    tagged,
)
from callscribe.analytics.models import (
    ChartType,
    CustomMetric,
    Dashboard,
    Favorite,
    SavedView,
    Selection,
    Visualization,
)
from callscribe.auth.permissions import Role
from callscribe.auth.principal import Principal
from callscribe.calls import service as calls
from callscribe.calls.models import Engagement, Turn
from callscribe.errors import (
    CallscribeError,
    Conflict,
    ErrorCode,
    Forbidden,
    NotFound,
    ValidationFailed,
    from_validation,
)
from callscribe.kit.filters import EngagementFilter
from callscribe.settings import get_settings

log = logging.getLogger(__name__)

MAX_GROUPS = 1000  # rows a query answers; a chart of more is unreadable
MAX_METRICS = 40
METRIC_NAME = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
SIMPLE_GROUPS = (
    "channel",
    "direction",
    "source",
    "queue",
    "location",
    "engaged_team",
    "engaged_department",
    "status",
)
GROUPS = (
    "agent",
    *SIMPLE_GROUPS,
    "outcome",
    "sentiment",
    "tag",
    "date:day",
    "date:week",
    "date:month",
    "attributes.<name>",
)
ATTRIBUTE_GROUP = re.compile(r"^attributes\.[A-Za-z_][A-Za-z0-9_]{0,59}$")


class InvalidExpression(CallscribeError):
    """422 with the column the message is about."""

    code: str = ErrorCode.INVALID_EXPRESSION
    status = 422

    def __init__(self, message: str, position: int):
        super().__init__(message)
        self.position = position

    def to_dict(self) -> dict:
        body = super().to_dict()
        body["error"]["position"] = self.position
        return body


# -- the catalog -------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricInfo:
    name: str
    label: str
    unit: str
    builtin: bool
    expression: str | None
    description: str


def metric_catalog(session: Session, company_id: uuid.UUID) -> list[MetricInfo]:
    items = [
        MetricInfo(m.name, m.label, m.unit, True, m.expression, m.description) for m in BUILTINS
    ]
    rows = session.scalars(
        select(CustomMetric)
        .where(CustomMetric.company_id == company_id)
        .order_by(CustomMetric.name)
    )
    items += [MetricInfo(r.name, r.label, r.unit, False, r.expression, r.description) for r in rows]
    return items


class _Registry:
    """The names a query's expressions may use: fields of the Frame, built-in metrics,
    the company's custom metrics (compiled on first use, cycles refused)."""

    def __init__(self, session: Session, frame: Frame, extra: dict[str, str] | None = None):
        self.frame = frame
        rows = session.execute(
            select(CustomMetric.name, CustomMetric.expression).where(
                CustomMetric.company_id == frame.company_id
            )
        )
        self.custom: dict[str, str] = {name: expr for name, expr in rows}
        self.custom.update(extra or {})
        self._compiling: list[str] = []

    def field(self, name: str) -> tuple[nodes.Kind, Any] | None:
        return self.frame.field(name)

    def is_metric(self, name: str) -> bool:
        return name in BUILTIN_BY_NAME or name in self.custom

    def metric(self, name: str, pos: int) -> ColumnElement[Any]:
        builtin = BUILTIN_BY_NAME.get(name)
        if builtin is not None:
            if builtin.compute is not None:
                return builtin.compute(self.frame)
            assert builtin.expression is not None
            return compile_value(parse(builtin.expression), self)
        if name in self._compiling:
            raise nodes.ExpressionError(
                f"'{name}' refers to itself (through {' -> '.join(self._compiling)})", pos
            )
        self._compiling.append(name)
        try:
            try:
                tree = parse(self.custom[name])
            except nodes.ExpressionError as exc:
                raise nodes.ExpressionError(
                    f"Metric '{name}' is invalid: {exc.message}", pos
                ) from None
            return compile_value(tree, self)
        finally:
            self._compiling.pop()


def check_expression(session: Session, company_id: uuid.UUID, expression: str) -> None:
    """Parse, resolve and type-check `expression`; InvalidExpression when it fails."""
    try:
        compile_value(parse(expression), _Registry(session, Frame(company_id)))
    except nodes.ExpressionError as exc:
        raise InvalidExpression(exc.message, exc.position) from None


def create_metric(
    session: Session,
    principal: Principal,
    *,
    name: str,
    label: str,
    expression: str,
    description: str = "",
    unit: str = "number",
) -> CustomMetric:
    require_editor(principal)
    if not METRIC_NAME.match(name):
        raise ValidationFailed(
            "name: lower-case letters, digits and _, starting with a letter (at most 60)"
        )
    if name in BUILTIN_BY_NAME or Frame(principal.company_id).field(name) is not None:
        raise Conflict(f"'{name}' is a built-in metric or field name; choose another.")
    exists = session.scalar(
        select(CustomMetric.id).where(
            CustomMetric.company_id == principal.company_id, CustomMetric.name == name
        )
    )
    if exists is not None:
        raise Conflict(f"A metric named '{name}' already exists.")
    check_expression(session, principal.company_id, expression)
    row = CustomMetric(
        company_id=principal.company_id,
        name=name,
        label=label,
        expression=expression,
        description=description,
        unit=unit,
        created_by=principal.user_id,
    )
    session.add(row)
    session.flush()
    return row


def delete_metric(session: Session, principal: Principal, name: str) -> None:
    require_editor(principal)
    if name in BUILTIN_BY_NAME:
        raise Forbidden("Built-in metrics are read-only.")
    row = session.scalar(
        select(CustomMetric).where(
            CustomMetric.company_id == principal.company_id, CustomMetric.name == name
        )
    )
    if row is None:
        raise NotFound(f"No metric named '{name}'.")
    users = [
        other
        for other, expr in session.execute(
            select(CustomMetric.name, CustomMetric.expression).where(
                CustomMetric.company_id == principal.company_id, CustomMetric.name != name
            )
        )
        if _refers_to(expr, name)
    ]
    if users:
        raise Conflict(f"'{name}' is used by {', '.join(sorted(users))}; delete those first.")
    session.delete(row)
    session.flush()


def _refers_to(expression: str, name: str) -> bool:
    try:
        return name in metric_refs(parse(expression))
    except nodes.ExpressionError:
        return False


def require_editor(principal: Principal) -> None:
    """Shared metrics, visualizations and dashboards: admins and managers (and company
    API keys, which act as admins) create, edit and delete them."""
    if principal.role not in (Role.ADMIN, Role.MANAGER):
        raise Forbidden("Only admins and managers can change shared analytics.")


# -- queries -----------------------------------------------------------------------------


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[list[Any]]
    keys: list[dict[str, Any]]  # per row: the group values a drill-down filters on
    path: str = "primary"  # where the rows came from: "primary" or "duckdb" (read model)


def _group(frame: Frame, name: str) -> tuple[Any, Any]:
    """(the value shown, the value a drill-down filters on) of one group-by name."""
    if name == "agent":
        agent = frame.agent()
        return agent.name, Engagement.agent_id
    if name in SIMPLE_GROUPS:
        col = getattr(Engagement, name)
        return col, col
    if name == "outcome":
        col = frame.outcome()
        return col, col
    if name == "sentiment":
        col = frame.minutes().sentiment
        return col, col
    if name == "tag":  # drills down by EngagementFilter.tag (the name)
        col = frame.tags().c.tag
        return col, col
    if name.startswith("date:") and name[5:] in ("day", "week", "month"):
        col = date_bucket(name[5:], frame.when)
        return col, col
    if ATTRIBUTE_GROUP.match(name):
        col = Engagement.attributes[name[11:]].as_string()
        return col, col
    raise ValidationFailed(f"group_by: unknown attribute '{name[:60]}'; one of {', '.join(GROUPS)}")


def scoped(frame: Frame, principal: Principal, flt: EngagementFilter) -> Select[Any]:
    """FROM engagements of the principal's company (an agent: their own only) matching
    the filter; technical engagements are left out unless the filter asks for them."""
    if flt.technical is None:
        flt = flt.model_copy(update={"technical": False})
    outcome, tag, reviewed = flt.outcome, flt.tag, flt.reviewed
    flt = flt.model_copy(update={"outcome": None, "tag": None, "reviewed": None})
    stmt = flt.apply(select(), Engagement, principal.company_id)
    if outcome:
        stmt = stmt.where(frame.outcome() == outcome)
    if tag:
        stmt = stmt.where(tagged(tag))
    if reviewed is not None:
        stmt = stmt.where(reviewed_engagement() if reviewed else ~reviewed_engagement())
    if principal.sees_only_own_calls:
        if principal.agent_id is None:
            stmt = stmt.where(false())
        else:
            stmt = stmt.where(Engagement.agent_id == principal.agent_id)
    return stmt


def _prepare(session: Session) -> None:
    if session.get_bind().dialect.name == "sqlite":
        register_sqlite_functions(session.connection().connection.driver_connection)


def run_query(
    session: Session,
    principal: Principal,
    metrics: list[str],
    group_by: list[str],
    flt: EngagementFilter,
) -> QueryResult:
    if not metrics:
        raise ValidationFailed("metrics: name at least one metric")
    if len(metrics) > MAX_METRICS or len(group_by) > 3:
        raise ValidationFailed(f"At most {MAX_METRICS} metrics and 3 group-by attributes.")
    frame = Frame(principal.company_id)
    registry = _Registry(session, frame)
    metric_cols: list[Any] = []
    for name in metrics:
        if not registry.is_metric(name):
            raise ValidationFailed(f"metrics: unknown metric '{name[:60]}'")
        try:
            metric_cols.append(registry.metric(name, 1).label(f"m{len(metric_cols)}"))
        except nodes.ExpressionError as exc:
            raise InvalidExpression(exc.message, exc.position) from None
    groups = [_group(frame, g) for g in group_by]
    base = scoped(frame, principal, flt)
    shown = [g[0].label(f"g{i}") for i, g in enumerate(groups)]
    keys = [g[1].label(f"k{i}") for i, g in enumerate(groups)]
    stmt = base.add_columns(*shown, *keys, *metric_cols).select_from(Engagement)
    stmt = frame.join(stmt)
    if groups:
        group_cols = [g[0] for g in groups] + [g[1] for g in groups]
        stmt = stmt.group_by(*dict.fromkeys(group_cols)).limit(MAX_GROUPS)
    fetched, path = _execute(session, stmt)
    n = len(groups)
    rows: list[list[Any]] = []
    row_keys: list[dict[str, Any]] = []
    for row in fetched:
        values = list(row)
        rows.append([*values[:n], *(_number(v) for v in values[2 * n :])])
        row_keys.append({g: _key(values[n + i]) for i, g in enumerate(group_by)})
    order = sorted(range(len(rows)), key=lambda i: tuple(_sort_key(v) for v in rows[i][:n]))
    return QueryResult(
        columns=[*group_by, *metrics],
        rows=[rows[i] for i in order],
        keys=[row_keys[i] for i in order],
        path=path,
    )


def _execute(session: Session, stmt: Select[Any]) -> tuple[list[Any], str]:
    """Rows of the statement and where they came from: the analytical read model when it
    is on, fresh and holds what the statement reads, else the primary database."""
    model = readmodel.current()
    why = "off"
    if model is not None:
        if not readmodel.servable(stmt):
            why = "not servable"
        elif not model.fresh(get_settings().ANALYTICS_MAX_LAG_S):
            why = "stale"
        else:
            rows = model.execute(stmt)
            model.served["duckdb"] += 1
            log.debug("analytics query: duckdb read model")
            return rows, "duckdb"
        model.served["primary"] += 1
    log.debug("analytics query: primary database (read model %s)", why)
    _prepare(session)
    return list(session.execute(stmt).all()), "primary"


def _key(value: Any) -> Any:
    return str(value) if isinstance(value, uuid.UUID) else value


def _number(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if value is not None and not isinstance(value, int | str):
        return round(float(value), 6)  # Decimal from PostgreSQL
    return value


def _sort_key(value: Any) -> tuple[int, str]:
    return (0, "") if value is None else (1, str(value))


# -- drill-down --------------------------------------------------------------------------


@dataclass(frozen=True)
class EngagementRow:
    id: uuid.UUID
    started_at: datetime | None
    channel: str
    direction: str | None
    agent_id: uuid.UUID | None
    agent_name: str | None
    customer_id: uuid.UUID | None
    outcome: str | None
    duration_s: float | None

    @property
    def url(self) -> str:
        if self.customer_id is not None:
            return f"/customers/{self.customer_id}/journey?engagement={self.id}"
        return f"/calls/{self.id}"


def engagements_behind(
    session: Session,
    principal: Principal,
    flt: EngagementFilter,
    segment: dict[str, Any],
    *,
    limit: int = 200,
    ids: list[uuid.UUID] | None = None,
) -> list[EngagementRow]:
    """The engagements of one segment (a bar, a row): the filter plus the group values;
    `ids`: only those (a saved selection)."""
    frame = Frame(principal.company_id)
    stmt = scoped(frame, principal, flt)
    if ids is not None:
        stmt = stmt.where(Engagement.id.in_(ids))
    for name, value in segment.items():
        _shown, key = _group(frame, str(name))
        if value in (None, ""):
            stmt = stmt.where(key.is_(None))
        elif name == "agent":
            agent_id = _as_uuid(str(value))
            if agent_id is None:
                raise ValidationFailed("segment.agent: an agent id")
            stmt = stmt.where(key == agent_id)
        else:
            stmt = stmt.where(key == str(value))
    agent = frame.agent()
    stmt = frame.join(
        stmt.add_columns(
            Engagement.id,
            Engagement.started_at,
            Engagement.channel,
            Engagement.direction,
            Engagement.agent_id,
            agent.name,
            Engagement.customer_id,
            frame.outcome(),
            Engagement.duration_s,
        ).select_from(Engagement)
    )
    stmt = stmt.order_by(frame.when.desc(), Engagement.id).limit(max(1, min(limit, 1000)))
    return [EngagementRow(*row) for row in session.execute(stmt).all()]


@dataclass(frozen=True)
class AgentReview:
    """One line of an agent's profile: a review of one of their engagements."""

    created_at: Any
    kind: str  # human | ai
    what: str  # the tag's name, the score, or both
    reviewer: str
    url: str


def agent_reviews(
    session: Session, principal: Principal, agent_id: uuid.UUID, limit: int = 20
) -> list[AgentReview]:
    """The newest reviews of the agent's engagements, people's and the AI's."""
    from callscribe.reviews import service as reviews
    from callscribe.reviews.models import Tag

    found = reviews.list_reviews(session, principal, agent_id=agent_id, page_size=limit).items
    tags = {
        t.id: t.name
        for t in session.scalars(select(Tag).where(Tag.id.in_({r.tag_id for r in found})))
    }
    engagements = {
        e.id: e
        for e in session.scalars(
            select(Engagement).where(Engagement.id.in_({r.engagement_id for r in found}))
        )
    }
    out = []
    for r in found:
        parts = [tags.get(r.tag_id, "") if r.tag_id else "", f"{r.score:.0f}%" if r.score else ""]
        engagement = engagements.get(r.engagement_id)
        url = (
            f"/customers/{engagement.customer_id}/journey?engagement={engagement.id}"
            if engagement is not None and engagement.customer_id
            else f"/calls/{r.engagement_id}"
        )
        out.append(
            AgentReview(
                created_at=r.created_at,
                kind=r.reviewer_kind,
                what=" · ".join(p for p in parts if p) or "answers",
                reviewer=r.reviewer_name or ("AI" if r.reviewer_kind == "ai" else "—"),
                url=url,
            )
        )
    return out


def ask_engagements(
    session: Session, principal: Principal, engagement_ids: list[uuid.UUID], prompt: str
) -> dict[str, Any]:
    """Ask about a list of engagements: the company's LLM when it has an AI endpoint
    (their masked transcripts, as much as fits, each under its heading), else the local
    engine: the turns (masked) of those the principal may see that match the prompt
    best (journey's TF-IDF ranking)."""
    from callscribe.accounts import service as accounts
    from callscribe.journey.service import ask_turns_llm, rank_turns
    from callscribe.minutes import service as minutes

    visible = calls.scoped_calls(principal).where(Engagement.id.in_(engagement_ids[:200]))
    shown = list(session.scalars(visible))
    ids = [row.id for row in shown]
    turns = list(
        session.scalars(
            select(Turn).where(Turn.engagement_id.in_(ids)).order_by(Turn.engagement_id, Turn.seq)
        )
    )[:20000]
    texts = [calls.masked_turn_text(t) for t in turns]
    client = minutes.chat_client_for(accounts.get_company_settings(session, principal.company_id))
    if client is not None and turns:
        agent_ids = {e.agent_id for e in shown if e.agent_id}
        by_id = {a.id: a for a in session.scalars(select(Agent).where(Agent.id.in_(agent_ids)))}
        agents: dict[uuid.UUID | None, Agent | None] = {
            e.id: by_id.get(e.agent_id) if e.agent_id else None for e in shown
        }
        answer = ask_turns_llm(client, turns, texts, prompt, agents=agents, many=True)
        engagement_of = {t.id: t.engagement_id for t in turns}
        return {
            "engine": "llm",
            "answer": answer.answer,
            "sources": [
                {"engagement_id": str(engagement_of[i]), "turn_id": i} for i in answer.sources
            ],
        }
    scores = rank_turns(prompt, texts) if turns else []
    best = sorted((i for i, s in enumerate(scores) if s > 0), key=lambda i: -scores[i])[:8]
    return {
        "engine": "local",
        "answer": "\n".join(f"- {turns[i].role}: {' '.join(texts[i].split())}" for i in best)
        or "No turn of these engagements matches the prompt.",
        "sources": [
            {"engagement_id": str(turns[i].engagement_id), "turn_id": turns[i].id} for i in best
        ],
    }


# -- filters -----------------------------------------------------------------------------


def parse_filter(values: dict[str, Any] | None) -> EngagementFilter:
    try:
        return EngagementFilter(**(values or {}))
    except ValidationError as exc:
        raise from_validation(exc, limit=3, prefix="filter:") from None
    except TypeError:
        raise ValidationFailed("filter: an object of EngagementFilter fields") from None


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    """A filter as JSON (what is stored and compared)."""
    return parse_filter(values).model_dump(mode="json", exclude_none=True)


# -- visualizations ----------------------------------------------------------------------


@dataclass(frozen=True)
class VisualizationInfo:
    id: str
    name: str
    chart: str
    metrics: list[str]
    group_by: list[str]
    filters: dict[str, Any]
    builtin: bool
    favorite: bool = False


def _vis_info(v: Any, favorites: set[str]) -> VisualizationInfo:
    if isinstance(v, builtins.BuiltinVisualization):
        return VisualizationInfo(
            v.key,
            v.name,
            v.chart,
            list(v.metrics),
            list(v.group_by),
            dict(v.filters),
            True,
            v.key in favorites,
        )
    return VisualizationInfo(
        str(v.id),
        v.name,
        v.chart,
        list(v.metrics),
        list(v.group_by),
        dict(v.filters),
        False,
        str(v.id) in favorites,
    )


def _favorites(session: Session, principal: Principal) -> set[str]:
    if principal.user_id is None:
        return set()
    return set(
        session.scalars(select(Favorite.visualization).where(Favorite.user_id == principal.user_id))
    )


def list_visualizations(
    session: Session, principal: Principal, q: str | None = None
) -> list[VisualizationInfo]:
    favorites = _favorites(session, principal)
    items = [_vis_info(v, favorites) for v in builtins.VISUALIZATIONS]
    rows = session.scalars(
        select(Visualization)
        .where(Visualization.company_id == principal.company_id)
        .order_by(Visualization.name)
    )
    items += [_vis_info(r, favorites) for r in rows]
    if q:
        items = [i for i in items if q.lower() in i.name.lower()]
    return items


def get_visualization(session: Session, principal: Principal, vis_id: str) -> VisualizationInfo:
    favorites = _favorites(session, principal)
    builtin = builtins.VISUALIZATION_BY_KEY.get(vis_id)
    if builtin is not None:
        return _vis_info(builtin, favorites)
    return _vis_info(_own_visualization(session, principal, vis_id), favorites)


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _own_visualization(session: Session, principal: Principal, vis_id: str) -> Visualization:
    vid = _as_uuid(vis_id)
    row = session.get(Visualization, vid) if vid else None
    if row is None or row.company_id != principal.company_id:
        raise NotFound("No such visualization.")
    return row


def _check_definition(
    session: Session, principal: Principal, chart: str, metrics: list[str], group_by: list[str]
) -> None:
    if chart not in ChartType.ALL:
        raise ValidationFailed(f"chart: one of {', '.join(ChartType.ALL)}")
    registry = _Registry(session, Frame(principal.company_id))
    for name in metrics:
        if not registry.is_metric(name):
            raise ValidationFailed(f"metrics: unknown metric '{name[:60]}'")
    for g in group_by:
        _group(Frame(principal.company_id), g)


def save_visualization(
    session: Session,
    principal: Principal,
    *,
    vis_id: str | None,
    name: str,
    chart: str,
    metrics: list[str],
    group_by: list[str],
    filters: dict[str, Any],
) -> VisualizationInfo:
    """Create (vis_id None) or edit one of the company's visualizations."""
    require_editor(principal)
    if vis_id is not None and vis_id in builtins.VISUALIZATION_BY_KEY:
        raise Forbidden("Built-in visualizations are read-only: save as new to change one.")
    _check_definition(session, principal, chart, metrics, group_by)
    row = Visualization(company_id=principal.company_id, created_by=principal.user_id)
    if vis_id is not None:
        row = _own_visualization(session, principal, vis_id)
    row.name, row.chart = name, chart
    row.metrics, row.group_by, row.filters = list(metrics), list(group_by), _plain(filters)
    session.add(row)
    session.flush()
    return _vis_info(row, set())


def copy_visualization(
    session: Session, principal: Principal, vis_id: str, name: str | None = None
) -> VisualizationInfo:
    source = get_visualization(session, principal, vis_id)
    return save_visualization(
        session,
        principal,
        vis_id=None,
        name=name or f"{source.name} (copy)",
        chart=source.chart,
        metrics=source.metrics,
        group_by=source.group_by,
        filters=source.filters,
    )


def delete_visualization(session: Session, principal: Principal, vis_id: str) -> None:
    require_editor(principal)
    if vis_id in builtins.VISUALIZATION_BY_KEY:
        raise Forbidden("Built-in visualizations are read-only.")
    session.delete(_own_visualization(session, principal, vis_id))
    session.flush()


def set_favorite(session: Session, principal: Principal, vis_id: str, on: bool) -> None:
    user_id = _user(principal)
    get_visualization(session, principal, vis_id)
    row = session.scalar(
        select(Favorite).where(Favorite.user_id == user_id, Favorite.visualization == vis_id)
    )
    if on and row is None:
        session.add(
            Favorite(company_id=principal.company_id, user_id=user_id, visualization=vis_id)
        )
    elif not on and row is not None:
        session.delete(row)
    session.flush()


def query_visualization(
    session: Session, principal: Principal, vis: VisualizationInfo, flt: dict[str, Any]
) -> QueryResult:
    """The visualization's data; `flt` (a dashboard's) overrides its own filters."""
    merged = {**vis.filters, **flt}
    return run_query(session, principal, vis.metrics, vis.group_by, parse_filter(merged))


# -- dashboards --------------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardInfo:
    id: str
    name: str
    description: str
    builtin: bool
    items: list[dict[str, Any]]
    filters: dict[str, Any]
    hidden_filters: dict[str, Any]
    locked_filters: dict[str, Any]


def _dash_info(d: Any) -> DashboardInfo:
    if isinstance(d, builtins.BuiltinDashboard):
        items = [
            {"visualization": key, "x": (i % 2) * 6, "y": (i // 2) * 4, "w": 6, "h": 4}
            for i, key in enumerate(d.visualizations)
        ]
        return DashboardInfo(d.key, d.name, d.description, True, items, dict(d.filters), {}, {})
    return DashboardInfo(
        str(d.id),
        d.name,
        "",
        False,
        list(d.items),
        dict(d.filters),
        dict(d.hidden_filters),
        dict(d.locked_filters),
    )


def list_dashboards(session: Session, principal: Principal) -> list[DashboardInfo]:
    rows = session.scalars(
        select(Dashboard)
        .where(Dashboard.company_id == principal.company_id)
        .order_by(Dashboard.name)
    )
    return [*(_dash_info(d) for d in builtins.DASHBOARDS), *(_dash_info(r) for r in rows)]


def _own_dashboard(session: Session, principal: Principal, dash_id: str) -> Dashboard:
    did = _as_uuid(dash_id)
    row = session.get(Dashboard, did) if did else None
    if row is None or row.company_id != principal.company_id:
        raise NotFound("No such dashboard.")
    return row


def get_dashboard(session: Session, principal: Principal, dash_id: str) -> DashboardInfo:
    builtin = builtins.DASHBOARD_BY_KEY.get(dash_id)
    if builtin is not None:
        return _dash_info(builtin)
    return _dash_info(_own_dashboard(session, principal, dash_id))


def save_dashboard(
    session: Session,
    principal: Principal,
    *,
    dash_id: str | None,
    name: str,
    items: list[dict[str, Any]],
    filters: dict[str, Any],
    hidden_filters: dict[str, Any] | None,
    locked_filters: dict[str, Any],
) -> DashboardInfo:
    """Create (dash_id None) or edit; `hidden_filters` None keeps the ones it has."""
    require_editor(principal)
    if dash_id is not None and dash_id in builtins.DASHBOARD_BY_KEY:
        raise Forbidden("Built-in dashboards are read-only: copy one to change it.")
    for item in items:
        get_visualization(session, principal, str(item.get("visualization", "")))
    row = Dashboard(company_id=principal.company_id, created_by=principal.user_id)
    if dash_id is not None:
        row = _own_dashboard(session, principal, dash_id)
    row.name = name
    row.items = [
        {
            "visualization": str(i["visualization"]),
            **{k: int(i.get(k, d)) for k, d in (("x", 0), ("y", 0), ("w", 6), ("h", 4))},
        }
        for i in items
    ]
    row.filters = _plain(filters)
    if hidden_filters is not None or dash_id is None:
        row.hidden_filters = _plain(hidden_filters or {})
    row.locked_filters = _plain(locked_filters)
    session.add(row)
    session.flush()
    return _dash_info(row)


def copy_dashboard(
    session: Session, principal: Principal, dash_id: str, name: str | None = None
) -> DashboardInfo:
    source = get_dashboard(session, principal, dash_id)
    return save_dashboard(
        session,
        principal,
        dash_id=None,
        name=name or f"{source.name} (copy)",
        items=source.items,
        filters=source.filters,
        hidden_filters=source.hidden_filters,
        locked_filters=source.locked_filters,
    )


def delete_dashboard(session: Session, principal: Principal, dash_id: str) -> None:
    require_editor(principal)
    if dash_id in builtins.DASHBOARD_BY_KEY:
        raise Forbidden("Built-in dashboards are read-only.")
    session.delete(_own_dashboard(session, principal, dash_id))
    session.flush()


def effective_filter(dash: DashboardInfo, requested: dict[str, Any]) -> dict[str, Any]:
    """What a dashboard's tiles are filtered by: its defaults, then the user's choice,
    then its locked and hidden filters, which the user cannot change (a request that
    tries is refused, so nobody believes a locked filter was lifted)."""
    asked = _plain(requested)
    fixed = {**dash.locked_filters, **dash.hidden_filters}
    for key, value in fixed.items():
        if key in asked and asked[key] != value:
            raise Forbidden(f"The filter '{key}' is fixed on this dashboard and cannot be changed.")
    return {**dash.filters, **asked, **fixed}


@dataclass
class Tile:
    visualization: VisualizationInfo
    result: QueryResult
    width: int = 6  # of 12 grid columns


def arranged(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A dashboard's items in reading order: by row (y), then column (x)."""
    return sorted(items, key=lambda i: (int(i.get("y", 0)), int(i.get("x", 0))))


def query_dashboard(
    session: Session, principal: Principal, dash_id: str, requested: dict[str, Any]
) -> tuple[DashboardInfo, dict[str, Any], list[Tile]]:
    dash = get_dashboard(session, principal, dash_id)
    flt = effective_filter(dash, requested)
    tiles = []
    for item in arranged(dash.items):
        try:
            vis = get_visualization(session, principal, item["visualization"])
        except NotFound:  # deleted since the dashboard was arranged: the tile is gone
            continue
        width = min(max(int(item.get("w", 6)), 1), 12)
        tiles.append(Tile(vis, query_visualization(session, principal, vis, flt), width))
    return dash, flt, tiles


def shown_filters(dash: DashboardInfo, flt: dict[str, Any]) -> dict[str, Any]:
    """The filter as the page shows it: hidden ones left out."""
    return {k: v for k, v in flt.items() if k not in dash.hidden_filters}


# -- saved views -------------------------------------------------------------------------


def _user(principal: Principal) -> uuid.UUID:
    if principal.user_id is None:
        raise Forbidden("Saved views and favorites belong to a user: sign in as one.")
    return principal.user_id


def list_views(session: Session, principal: Principal, dashboard: str | None) -> list[SavedView]:
    stmt = select(SavedView).where(SavedView.user_id == _user(principal))
    if dashboard:
        stmt = stmt.where(SavedView.dashboard == dashboard)
    return list(session.scalars(stmt.order_by(SavedView.name)))


def _own_view(session: Session, principal: Principal, view_id: str) -> SavedView:
    vid = _as_uuid(view_id)
    row = session.get(SavedView, vid) if vid else None
    if row is None or row.user_id != _user(principal):  # another user's view: not found
        raise NotFound("No such view.")
    return row


def save_view(
    session: Session,
    principal: Principal,
    *,
    dashboard: str,
    name: str,
    filters: dict[str, Any],
    is_default: bool,
) -> SavedView:
    user_id = _user(principal)
    dash = get_dashboard(session, principal, dashboard)
    effective_filter(dash, filters)  # a view cannot lift a locked filter either
    row = SavedView(
        company_id=principal.company_id,
        user_id=user_id,
        dashboard=dash.id,
        name=name,
        filters=_plain(filters),
    )
    session.add(row)
    session.flush()
    if is_default:
        set_default_view(session, principal, str(row.id))
    return row


def set_default_view(session: Session, principal: Principal, view_id: str) -> SavedView:
    row = _own_view(session, principal, view_id)
    for other in list_views(session, principal, row.dashboard):
        other.is_default = other.id == row.id
    session.flush()
    return row


def delete_view(session: Session, principal: Principal, view_id: str) -> None:
    session.delete(_own_view(session, principal, view_id))
    session.flush()


def get_view(session: Session, principal: Principal, view_id: str) -> SavedView:
    return _own_view(session, principal, view_id)


def default_view(session: Session, principal: Principal, dashboard: str) -> SavedView | None:
    if principal.user_id is None:
        return None
    return session.scalar(
        select(SavedView).where(
            SavedView.user_id == principal.user_id,
            SavedView.dashboard == dashboard,
            SavedView.is_default.is_(True),
        )
    )


# -- selections --------------------------------------------------------------------------


def create_selection(
    session: Session,
    principal: Principal,
    *,
    name: str,
    filters: dict[str, Any],
    segment: dict[str, Any],
) -> Selection:
    """The engagements behind a filter (and segment) at this moment, kept as a list."""
    flt = parse_filter(filters)
    found = engagements_behind(session, principal, flt, segment, limit=1000)
    row = Selection(
        company_id=principal.company_id,
        name=name,
        engagement_ids=[str(e.id) for e in found],
        filters={"filter": _plain(filters), "segment": dict(segment)},
        created_by=principal.user_id,
    )
    session.add(row)
    session.flush()
    return row


def list_selections(session: Session, principal: Principal) -> list[Selection]:
    stmt = select(Selection).where(Selection.company_id == principal.company_id)
    if principal.sees_only_own_calls:
        stmt = stmt.where(Selection.created_by == principal.user_id)
    return list(session.scalars(stmt.order_by(Selection.created_at.desc())))


def get_selection(session: Session, principal: Principal, selection_id: str) -> Selection:
    sid = _as_uuid(selection_id)
    row = session.get(Selection, sid) if sid else None
    if row is None or row.company_id != principal.company_id:
        raise NotFound("No such selection.")
    if principal.sees_only_own_calls and row.created_by != principal.user_id:
        raise NotFound("No such selection.")
    return row


def delete_selection(session: Session, principal: Principal, selection_id: str) -> None:
    session.delete(get_selection(session, principal, selection_id))
    session.flush()


# -- agents ------------------------------------------------------------------------------


def agent_for_profile(session: Session, principal: Principal, agent_id: str) -> Agent:
    aid = _as_uuid(agent_id)
    agent = session.get(Agent, aid) if aid else None
    if agent is None or agent.company_id != principal.company_id:
        raise NotFound("No such agent.")
    if principal.sees_only_own_calls and agent.id != principal.agent_id:
        raise NotFound("No such agent.")
    return agent

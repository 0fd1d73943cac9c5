"""Pages of Minutes: every action item across calls, the done/open toggle, and the
Settings -> AI & speech tab."""

from __future__ import annotations

import time as clock
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.responses import Response

from callscribe.accounts import service as accounts
from callscribe.accounts.models import Agent
from callscribe.auth.deps import AdminUser, DbSession, PageUser
from callscribe.auth.users import CurrentUser
from callscribe.calls import service as calls
from callscribe.calls.models import ActionItem, ActionItemStatus, Engagement, Minutes, Priority
from callscribe.db import get_sessionmaker, session_scope
from callscribe.errors import CallscribeError, NotFound
from callscribe.kit.filters import EngagementFilter
from callscribe.kit.schemas import MAX_PAGE
from callscribe.minutes import settings as ai_settings
from callscribe.minutes.analyzers import DEFAULT_MODELS, PRESETS, AnalyzerConfig, get_analyzer
from callscribe.minutes.schemas import AISettingsIn, AnalysisContext, TurnIn
from callscribe.security.outbound import check_url
from callscribe.settings import get_settings
from callscribe.speech import service as speech
from callscribe.web.flash import flash
from callscribe.web.templating import redirect, render

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
    user: PageUser,
    session: DbSession,
    page: int = 1,
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
        "mask": _masker(session, items),
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
    user: PageUser,
    session: DbSession,
    layout: str = Form("li"),
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
            mask=_masker(session, [item]),
        )
    return render(request, "minutes/_action_item.html", item=item, mask=_masker(session, [item]))


def _masker(session: DbSession, items: list[ActionItem]) -> Callable[..., str]:
    """`mask(text, engagement_id)` for the templates: masked with what each item's call
    knows of its customer, as on the call page (the customer's name is PII there too)."""
    known = {}
    for engagement_id in {i.engagement_id for i in items}:
        call = session.get(Engagement, engagement_id)
        if call is not None:
            known[engagement_id] = calls.known_identity(call)

    def mask(text: str | None, engagement_id: uuid.UUID | None = None) -> str:
        return calls.mask(text, known.get(engagement_id) if engagement_id else None)

    return mask


# -- Settings -> AI and speech -----------------------------------------------------------

AI_PROVIDERS = {
    "openai": ("OpenAI", PRESETS["openai"], DEFAULT_MODELS[PRESETS["openai"]]),
    "mistral": ("Mistral", PRESETS["mistral"], DEFAULT_MODELS[PRESETS["mistral"]]),
    "custom": ("Custom base URL", "", ""),
}

SAMPLE_DIALOGUE = [
    ("agent", "Thank you for calling Acme support, this is Dana. How can I help you today?"),
    (
        "customer",
        "Hi Dana, my internet connection keeps dropping every evening since Monday, and I "
        "work from home, so it is a real problem.",
    ),
    (
        "agent",
        "I am sorry about that. I can see errors on your line. I will book a technician "
        "visit for Thursday morning and I will email you the confirmation today.",
    ),
    ("customer", "Great, thank you. Thursday morning works for me."),
]


def _ai_page(
    request: Request,
    session: Session,
    user: CurrentUser,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    cs = accounts.get_company_settings(session, user.company_id)
    view = ai_settings.ai_settings_view(cs)
    agent_channel = (view["channel_roles"].get("*") or {}).get("1") == "agent"
    waiting = calls.list_calls(
        session, user.principal, calls.CallFilters(status="waiting"), 1, 1
    ).total
    return render(
        request,
        "minutes/settings_ai.html",
        status_code=status_code,
        s=view,
        providers=AI_PROVIDERS,
        agent_channel="1" if agent_channel else "0",
        speech_models=speech.installed_models(),
        waiting=waiting,
        error=error,
        tab="ai",
    )


@router.get("/settings/ai")
def ai_settings_page(
    request: Request,
    user: PageUser,
    session: DbSession,
) -> Response:
    return _ai_page(request, session, user)


def _ai_changes(form: dict[str, Any], cs_view: dict[str, Any]) -> dict[str, Any]:
    """Form fields as AISettingsIn changes, with PUT /api/settings/ai semantics: an empty
    key field keeps the stored key; "remove" clears it."""
    changes: dict[str, Any] = {}
    engine = form.get("ai_engine") or "local"
    changes["ai_engine"] = engine
    provider = form.get("ai_provider") or None
    if engine == "openai":
        changes["ai_provider"] = provider or "custom"
        if changes["ai_provider"] == "custom":
            changes["ai_base_url"] = (form.get("ai_base_url") or "").strip() or None
    changes["ai_model"] = (form.get("ai_model") or "").strip() or None
    if form.get("ai_api_key_remove"):
        changes["ai_api_key"] = ""
    elif (form.get("ai_api_key") or "").strip():
        changes["ai_api_key"] = form["ai_api_key"].strip()
    changes["speech_engine"] = form.get("speech_engine") or "faster-whisper"
    changes["speech_model"] = (form.get("speech_model") or "").strip() or None
    if changes["speech_engine"] == "openai":
        changes["speech_base_url"] = (form.get("speech_base_url") or "").strip() or None
    if form.get("speech_api_key_remove"):
        changes["speech_api_key"] = ""
    elif (form.get("speech_api_key") or "").strip():
        changes["speech_api_key"] = form["speech_api_key"].strip()
    changes["speech_language"] = (form.get("speech_language") or "").strip() or None
    labels = [line.strip() for line in (form.get("outcome_labels") or "").splitlines()]
    changes["outcome_labels"] = [label for label in labels if label]
    roles = dict(cs_view.get("channel_roles") or {})
    agent_channel = form.get("agent_channel") or "0"
    roles["*"] = (
        {"0": "agent", "1": "customer"} if agent_channel == "0" else {"0": "customer", "1": "agent"}
    )
    changes["channel_roles"] = roles
    changes["redact_pii"] = bool(form.get("redact_pii"))
    changes["ai_fallback_local"] = bool(form.get("ai_fallback_local"))
    return changes


@router.post("/settings/ai")
async def ai_settings_submit(request: Request, user: AdminUser) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    return await run_in_threadpool(_save_ai_settings, request, user, form)


def _save_ai_settings(request: Request, user: CurrentUser, form: dict[str, str]) -> Response:
    session = get_sessionmaker()()
    try:
        cs = accounts.get_company_settings(session, user.company_id)
        try:
            body = AISettingsIn.model_validate(_ai_changes(form, ai_settings.ai_settings_view(cs)))
            changed = ai_settings.update_ai_settings(cs, body.model_dump(exclude_unset=True))
            resumed = calls.resume_waiting(session, user.company_id) if changed else []
            calls.request_processing(session, resumed)  # enqueued once this commits
            session.commit()
        except ValidationError as exc:
            session.rollback()
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            return _ai_page(request, session, user, error=f"{where}: {err['msg']}", status_code=400)
        except CallscribeError as exc:
            session.rollback()
            return _ai_page(request, session, user, error=exc.message, status_code=400)
        message = "AI settings saved."
        if resumed:
            message += f" {len(resumed)} waiting call{'s' if len(resumed) != 1 else ''} resumed."
        flash(request, message)
        return redirect(request, "/settings/ai")
    finally:
        session.close()


@router.post("/settings/ai/test")
async def ai_settings_test(request: Request, user: AdminUser) -> Response:
    """One real request with the settings in the form (the stored key when the key field
    is empty): the local analyzer analyzes a sample dialogue; an OpenAI-compatible
    endpoint is asked to do the same."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    result = await run_in_threadpool(_run_ai_test, user, form)
    return render(request, "minutes/_ai_test_result.html", **result)


def _run_ai_test(user: CurrentUser, form: dict[str, str]) -> dict[str, Any]:
    with session_scope() as session:
        cs = accounts.get_company_settings(session, user.company_id)
        stored_key = ai_settings.ai_key(cs)
        labels = cs.outcome_labels
    engine = form.get("ai_engine") or "local"
    started = clock.perf_counter()
    try:
        if engine == "openai":
            provider = form.get("ai_provider") or "custom"
            base_url = PRESETS.get(provider) or (form.get("ai_base_url") or "").strip()
            if not base_url:
                raise CallscribeError("Enter the base URL of the endpoint.", code="bad_url")
            check_url(base_url)
            key = (form.get("ai_api_key") or "").strip() or stored_key
            config = AnalyzerConfig(
                engine="openai",
                base_url=base_url,
                model=(form.get("ai_model") or "").strip() or None,
                api_key=key,
                timeout_s=min(get_settings().AI_TIMEOUT_S, 30),
                max_retries=0,
            )
            where = f"The endpoint {base_url} ({config.model or 'default model'})"
        else:
            config = AnalyzerConfig(engine="local")
            where = "The built-in analyzer"
        analyzer = get_analyzer(config)
        context = AnalysisContext(agent_name="Dana", customer_name="Sam")
        if labels:
            context.outcome_labels = list(labels)
        draft = analyzer.analyze(
            [
                TurnIn(role=role, text=text, start_ms=i * 5000, end_ms=i * 5000 + 4000)  # type: ignore[arg-type]
                for i, (role, text) in enumerate(SAMPLE_DIALOGUE)
            ],
            context,
        )
    except CallscribeError as exc:
        return {"ok": False, "message": exc.message, "draft": None, "where": None, "ms": None}
    except Exception as exc:  # a test must report, not crash the page
        return {
            "ok": False,
            "message": f"{type(exc).__name__}: {str(exc)[:300]}",
            "draft": None,
            "where": None,
            "ms": None,
        }
    ms = int((clock.perf_counter() - started) * 1000)
    return {"ok": True, "message": None, "draft": draft, "where": where, "ms": ms}

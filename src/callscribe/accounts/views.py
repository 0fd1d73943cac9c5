"""Pages of accounts: first-run setup, sign in/out, invitations, Settings (AI and speech,
users, API keys)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.responses import Response

from callscribe.accounts import service
from callscribe.accounts.models import ROLES, Agent
from callscribe.accounts.schemas import AISettingsIn
from callscribe.calls import service as calls
from callscribe.calls.tasks import enqueue_calls
from callscribe.errors import CallscribeError
from callscribe.minutes.analyzers import DEFAULT_MODELS, PRESETS
from callscribe.web.deps import get_session
from callscribe.web.session import (
    client_ip,
    current_user,
    end_session,
    login_limiter,
    start_user_session,
    verify_csrf,
)
from callscribe.web.templating import (
    CurrentUser,
    flash,
    redirect,
    render,
    require_admin,
    require_user,
)

router = APIRouter(include_in_schema=False)

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


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/calls"


# -- home, first run, sign in ------------------------------------------------------------


@router.get("/")
async def home(request: Request) -> Response:
    if not await run_in_threadpool(_has_users):
        return redirect(request, "/setup")
    if await current_user(request) is None:
        return redirect(request, "/login")
    return redirect(request, "/calls")


def _has_users() -> bool:
    from callscribe.db import session_scope

    with session_scope() as session:
        return service.has_users(session)


@router.get("/setup")
async def setup_page(request: Request) -> Response:
    if await run_in_threadpool(_has_users):
        return redirect(request, "/login")
    return render(request, "accounts/setup.html", form={}, error=None)


@router.post("/setup", dependencies=[Depends(verify_csrf)])
def setup_submit(
    request: Request,
    company_name: str = Form(""),
    name: str = Form(""),
    email: str = Form(""),
    password: str = Form(""),
    password_confirm: str = Form(""),
    session: Session = Depends(get_session),
) -> Response:
    form = {"company_name": company_name, "name": name, "email": email}
    if service.has_users(session):
        flash(request, "This installation is already set up. Sign in.", "info")
        return redirect(request, "/login")
    error = None
    if password != password_confirm:
        error = "The two passwords differ."
    else:
        try:
            user = service.setup_first_account(
                session, company_name=company_name, name=name, email=email, password=password
            )
            session.commit()
        except CallscribeError as exc:
            session.rollback()
            error = exc.message
    if error:
        return render(request, "accounts/setup.html", status_code=400, form=form, error=error)
    flash(request, f"{user.email} is the administrator of {company_name.strip()}. Sign in.")
    return redirect(request, f"/login?email={user.email}")


@router.get("/login")
async def login_page(request: Request, next: str | None = None, email: str = "") -> Response:
    if not await run_in_threadpool(_has_users):
        return redirect(request, "/setup")
    if await current_user(request) is not None:
        return redirect(request, _safe_next(next))
    return render(request, "accounts/login.html", next=next or "", email=email, error=None)


@router.post("/login", dependencies=[Depends(verify_csrf)])
def login_submit(
    request: Request,
    email: str = Form(""),
    password: str = Form(""),
    next: str = Form(""),
    session: Session = Depends(get_session),
) -> Response:
    ip = client_ip(request)
    email = email.strip().lower()
    wait = login_limiter.retry_after(ip, email)
    if wait:
        minutes = max(1, round(wait / 60))
        return render(
            request,
            "accounts/login.html",
            status_code=429,
            headers={"Retry-After": str(wait)},
            next=next,
            email=email,
            error=f"Too many failed sign-ins. Try again in {minutes} minute"
            f"{'s' if minutes != 1 else ''}.",
        )
    user = service.authenticate_user(session, email, password)
    if user is None:
        login_limiter.failed(ip, email)
        return render(
            request,
            "accounts/login.html",
            status_code=401,
            next=next,
            email=email,
            error="Wrong email or password.",
        )
    start_user_session(request, session, user)
    session.commit()
    login_limiter.succeeded(ip, email)
    return redirect(request, _safe_next(next))


@router.post("/logout", dependencies=[Depends(verify_csrf)])
def logout(request: Request, session: Session = Depends(get_session)) -> Response:
    end_session(request, session)
    session.commit()
    flash(request, "You are signed out.", "info")
    return redirect(request, "/login")


@router.get("/invite/{user_id}")
def invite_page(
    request: Request, user_id: str, token: str = "", session: Session = Depends(get_session)
) -> Response:
    user = _invited_user(session, user_id, token)
    if user is None:
        return render(
            request,
            "error.html",
            status_code=404,
            title="Invitation not valid",
            message="This invitation link has expired or was already used. Ask an admin "
            "for a new one.",
        )
    return render(request, "accounts/invite.html", invited=user, token=token, error=None)


@router.post("/invite/{user_id}", dependencies=[Depends(verify_csrf)])
def invite_submit(
    request: Request,
    user_id: str,
    token: str = Form(""),
    password: str = Form(""),
    password_confirm: str = Form(""),
    session: Session = Depends(get_session),
) -> Response:
    user = _invited_user(session, user_id, token)
    if user is None:
        flash(request, "This invitation link has expired or was already used.", "error")
        return redirect(request, "/login")
    error = None
    if password != password_confirm:
        error = "The two passwords differ."
    else:
        try:
            service.set_password(user, password)
            session.commit()
        except CallscribeError as exc:
            error = exc.message
    if error:
        return render(
            request, "accounts/invite.html", status_code=400, invited=user, token=token, error=error
        )
    flash(request, "Your password is set. Sign in.")
    return redirect(request, f"/login?email={user.email}")


def _invited_user(session: Session, user_id: str, token: str) -> Any:
    from callscribe.accounts.models import User

    try:
        user = session.get(User, uuid.UUID(user_id))
    except ValueError:
        return None
    if user is None or not token or not service.verify_invite_token(user, token):
        return None
    return user


# -- Settings -> AI and speech -----------------------------------------------------------


@router.get("/settings")
def settings_home(request: Request, user: CurrentUser = Depends(require_user)) -> Response:
    return redirect(request, "/settings/ai")


def _ai_page(
    request: Request,
    session: Session,
    user: CurrentUser,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    cs = service.get_company_settings(session, user.company_id)
    view = service.ai_settings_view(cs)
    agent_channel = (view["channel_roles"].get("*") or {}).get("1") == "agent"
    waiting = calls.list_calls(
        session, user.principal, calls.CallFilters(status="waiting"), 1, 1
    ).total
    return render(
        request,
        "accounts/settings_ai.html",
        status_code=status_code,
        s=view,
        providers=AI_PROVIDERS,
        agent_channel="1" if agent_channel else "0",
        waiting=waiting,
        error=error,
        tab="ai",
    )


@router.get("/settings/ai")
def ai_settings_page(
    request: Request,
    user: CurrentUser = Depends(require_user),
    session: Session = Depends(get_session),
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
    return changes


@router.post("/settings/ai")
async def ai_settings_submit(
    request: Request, user: CurrentUser = Depends(require_admin)
) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    return await run_in_threadpool(_save_ai_settings, request, user, form)


def _save_ai_settings(request: Request, user: CurrentUser, form: dict[str, str]) -> Response:
    from callscribe.db import get_sessionmaker

    session = get_sessionmaker()()
    try:
        cs = service.get_company_settings(session, user.company_id)
        try:
            body = AISettingsIn.model_validate(_ai_changes(form, service.ai_settings_view(cs)))
            changed = service.update_ai_settings(cs, body.model_dump(exclude_unset=True))
            resumed = calls.resume_waiting(session, user.company_id) if changed else []
            session.commit()
        except ValidationError as exc:
            session.rollback()
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            return _ai_page(request, session, user, error=f"{where}: {err['msg']}", status_code=400)
        except CallscribeError as exc:
            session.rollback()
            return _ai_page(request, session, user, error=exc.message, status_code=400)
        enqueue_calls(resumed)
        message = "AI settings saved."
        if resumed:
            message += f" {len(resumed)} waiting call{'s' if len(resumed) != 1 else ''} resumed."
        flash(request, message)
        return redirect(request, "/settings/ai")
    finally:
        session.close()


@router.post("/settings/ai/test")
async def ai_settings_test(
    request: Request, user: CurrentUser = Depends(require_admin)
) -> Response:
    """One real request with the settings in the form (the stored key when the key field
    is empty): the local analyzer analyzes a sample dialogue; an OpenAI-compatible
    endpoint is asked to do the same."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    result = await run_in_threadpool(_run_ai_test, user, form)
    return render(request, "accounts/_ai_test_result.html", **result)


def _run_ai_test(user: CurrentUser, form: dict[str, str]) -> dict[str, Any]:
    from callscribe.db import session_scope
    from callscribe.minutes.analyzers import AnalyzerConfig, get_analyzer
    from callscribe.minutes.schemas import AnalysisContext, TurnIn
    from callscribe.security.outbound import check_url
    from callscribe.settings import get_settings

    with session_scope() as session:
        cs = service.get_company_settings(session, user.company_id)
        stored_key = service.ai_key(cs)
        labels = cs.outcome_labels
    engine = form.get("ai_engine") or "local"
    started = time.perf_counter()
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
    ms = int((time.perf_counter() - started) * 1000)
    return {"ok": True, "message": None, "draft": draft, "where": where, "ms": ms}


# -- Settings -> users -------------------------------------------------------------------


def _users_page(
    request: Request,
    session: Session,
    user: CurrentUser,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
    invite: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    users = service.list_users(session, user.company_id)
    agents = {
        a.id: a for a in session.query(Agent).filter(Agent.company_id == user.company_id).all()
    }
    return render(
        request,
        "accounts/settings_users.html",
        status_code=status_code,
        users=users,
        agents=agents,
        roles=ROLES,
        error=error,
        form=form or {"role": "agent"},
        invite=invite,
        tab="users",
    )


def _invite_link(request: Request, user: Any) -> str:
    from callscribe.settings import get_settings

    # the configured public address when there is one (a proxy may hide it from us)
    base = (get_settings().PUBLIC_URL or str(request.base_url)).rstrip("/")
    return f"{base}/invite/{user.id}?token={service.invite_token(user)}"


@router.get("/settings/users")
def users_page(
    request: Request,
    user: CurrentUser = Depends(require_admin),
    session: Session = Depends(get_session),
) -> Response:
    return _users_page(request, session, user)


@router.post("/settings/users")
def create_user(
    request: Request,
    name: str = Form(""),
    email: str = Form(""),
    role: str = Form("agent"),
    password: str = Form(""),
    extension_id: str = Form(""),
    agent_email: str = Form(""),
    phone: str = Form(""),
    user: CurrentUser = Depends(require_admin),
    session: Session = Depends(get_session),
) -> Response:
    form = {
        "name": name,
        "email": email,
        "role": role,
        "extension_id": extension_id,
        "agent_email": agent_email,
        "phone": phone,
    }
    try:
        created = service.create_user(
            session, user.company_id, email=email, name=name, password=password or None, role=role
        )
        service.link_user_agent(
            session,
            user.company_id,
            created,
            extension_id=extension_id,
            email=agent_email,
            phone=phone,
        )
        session.commit()
    except CallscribeError as exc:
        session.rollback()
        return _users_page(request, session, user, error=exc.message, form=form, status_code=400)
    if password:
        flash(request, f"{created.email} can sign in now.")
        return redirect(request, "/settings/users")
    invite = {"email": created.email, "link": _invite_link(request, created)}
    flash(request, f"{created.email} was added. Send them the invitation link below.")
    return _users_page(request, session, user, invite=invite)


@router.post("/settings/users/{user_id}")
def update_user(
    request: Request,
    user_id: str,
    role: str = Form(...),
    is_active: str = Form(""),
    extension_id: str = Form(""),
    agent_email: str = Form(""),
    phone: str = Form(""),
    user: CurrentUser = Depends(require_admin),
    session: Session = Depends(get_session),
) -> Response:
    try:
        target = service.get_user(session, user.company_id, user_id)
        service.update_user(
            session,
            user.company_id,
            target,
            role=role,
            is_active=bool(is_active),
            acting_user_id=user.id,
        )
        service.link_user_agent(
            session,
            user.company_id,
            target,
            extension_id=extension_id,
            email=agent_email,
            phone=phone,
        )
        session.commit()
    except CallscribeError as exc:
        session.rollback()
        return _users_page(request, session, user, error=exc.message, status_code=400)
    flash(request, f"{target.email} updated.")
    return redirect(request, "/settings/users")


@router.post("/settings/users/{user_id}/invite")
def new_invite(
    request: Request,
    user_id: str,
    user: CurrentUser = Depends(require_admin),
    session: Session = Depends(get_session),
) -> Response:
    try:
        target = service.get_user(session, user.company_id, user_id)
    except CallscribeError as exc:
        return _users_page(request, session, user, error=exc.message, status_code=404)
    if target.password_hash:
        # a new link replaces the password: the user chooses a new one
        target.password_hash = None
        service.close_all_user_sessions(session, target.id)
        session.commit()
    invite = {"email": target.email, "link": _invite_link(request, target)}
    return _users_page(request, session, user, invite=invite)


# -- Settings -> API keys ----------------------------------------------------------------


def _keys_page(
    request: Request,
    session: Session,
    user: CurrentUser,
    *,
    new_key: str | None = None,
    new_key_name: str | None = None,
) -> Response:
    return render(
        request,
        "accounts/settings_api_keys.html",
        keys=service.list_api_keys(session, user.company_id),
        new_key=new_key,
        new_key_name=new_key_name,
        tab="api-keys",
    )


@router.get("/settings/api-keys")
def api_keys_page(
    request: Request,
    user: CurrentUser = Depends(require_admin),
    session: Session = Depends(get_session),
) -> Response:
    return _keys_page(request, session, user)


@router.post("/settings/api-keys")
def create_api_key(
    request: Request,
    name: str = Form(""),
    user: CurrentUser = Depends(require_admin),
    session: Session = Depends(get_session),
) -> Response:
    row, plain = service.create_api_key(
        session, user.company_id, name.strip() or "API key", created_by=user.id
    )
    session.commit()
    # shown once: never stored in plain, never in a cookie or a URL
    return _keys_page(request, session, user, new_key=plain, new_key_name=row.name)


@router.post("/settings/api-keys/{key_id}/revoke")
def revoke_api_key(
    request: Request,
    key_id: uuid.UUID,
    user: CurrentUser = Depends(require_admin),
    session: Session = Depends(get_session),
) -> Response:
    try:
        row = service.revoke_api_key(session, user.company_id, key_id)
        session.commit()
    except CallscribeError as exc:
        flash(request, exc.message, "error")
        return redirect(request, "/settings/api-keys")
    flash(request, f"API key {row.name} ({row.prefix}…) revoked.")
    return redirect(request, "/settings/api-keys")

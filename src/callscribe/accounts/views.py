"""Pages of accounts: first-run setup, sign in/out, invitations, Settings (AI and speech,
users, API keys)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session
from starlette.responses import Response

from callscribe.accounts import service
from callscribe.accounts.models import Agent
from callscribe.auth import api_keys
from callscribe.auth.csrf import verify_csrf
from callscribe.auth.deps import AdminUser, DbSession, PageUser
from callscribe.auth.permissions import Role
from callscribe.auth.ratelimit import HashingBusy, login_limiter
from callscribe.auth.sessions import (
    client_ip,
    close_all_user_sessions,
    end_session,
    start_user_session,
)
from callscribe.auth.users import CurrentUser, current_user
from callscribe.errors import CallscribeError
from callscribe.kit.timefmt import time_zone_names
from callscribe.web.flash import flash
from callscribe.web.templating import redirect, render

router = APIRouter(include_in_schema=False)


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
    session: DbSession,
    company_name: str = Form(""),
    name: str = Form(""),
    email: str = Form(""),
    password: str = Form(""),
    password_confirm: str = Form(""),
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
    # the person who just chose the password is signed in (a new session id: no fixation)
    start_user_session(request, session, user)
    session.commit()
    flash(request, f"You are the administrator of {company_name.strip()}. Welcome!")
    return redirect(request, "/calls")


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
    session: DbSession,
    email: str = Form(""),
    password: str = Form(""),
    next: str = Form(""),
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
    try:
        user = service.authenticate_user(session, email, password)
    except HashingBusy as exc:
        return render(
            request,
            "accounts/login.html",
            status_code=exc.status,
            headers={"Retry-After": str(exc.retry_after_s)},
            next=next,
            email=email,
            error=exc.message,
        )
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
def logout(request: Request, session: DbSession) -> Response:
    end_session(request, session)
    session.commit()
    flash(request, "You are signed out.", "info")
    return redirect(request, "/login")


@router.get("/invite/{user_id}")
def invite_page(request: Request, user_id: str, session: DbSession, token: str = "") -> Response:
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
    session: DbSession,
    token: str = Form(""),
    password: str = Form(""),
    password_confirm: str = Form(""),
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


# -- Settings (the AI and speech tab is minutes'; users and API keys are here) ------------


@router.get("/settings")
def settings_home(request: Request, user: PageUser) -> Response:
    return redirect(request, "/settings/ai")


# -- time zones: Settings -> Company (admins) and each user's own (the user menu) --------


def _zone_choices() -> list[str]:
    return sorted(time_zone_names())


@router.get("/settings/company")
def company_settings_page(request: Request, user: AdminUser, session: DbSession) -> Response:
    return render(
        request,
        "accounts/settings_company.html",
        zone=service.company_time_zone(session, user.company_id) or "",
        zones=_zone_choices(),
        error=None,
        tab="company",
    )


@router.post("/settings/company", dependencies=[Depends(verify_csrf)])
def company_settings_save(
    request: Request, user: AdminUser, session: DbSession, time_zone: str = Form("")
) -> Response:
    try:
        zone = service.set_company_time_zone(session, user.company_id, time_zone)
        session.commit()
    except CallscribeError as exc:
        session.rollback()
        return render(
            request,
            "accounts/settings_company.html",
            status_code=exc.status,
            zone=time_zone,
            zones=_zone_choices(),
            error=exc.message,
            tab="company",
        )
    flash(request, f"Times are shown in {zone or 'UTC'} unless a user chose their own.")
    return redirect(request, "/settings/company")


@router.get("/profile")
def profile_page(request: Request, user: PageUser) -> Response:
    return render(
        request,
        "accounts/profile.html",
        zone=user.own_time_zone or "",
        zones=_zone_choices(),
        error=None,
    )


@router.post("/profile", dependencies=[Depends(verify_csrf)])
def profile_save(
    request: Request, user: PageUser, session: DbSession, time_zone: str = Form("")
) -> Response:
    try:
        zone = service.set_user_time_zone(session, user.id, time_zone)
        session.commit()
    except CallscribeError as exc:
        session.rollback()
        return render(
            request,
            "accounts/profile.html",
            status_code=exc.status,
            zone=time_zone,
            zones=_zone_choices(),
            error=exc.message,
        )
    shown = zone or f"the company's ({user.company_time_zone or 'UTC'})"
    flash(request, f"Your times are shown in {shown}.")
    return redirect(request, "/profile")


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
        roles=list(Role),
        error=error,
        form=form or {"role": Role.AGENT},
        invite=invite,
        tab="users",
    )


def _invite_link(request: Request, session: Session, user: Any) -> str:
    """A new invitation link for `user`; it replaces (and so ends) every earlier one."""
    from callscribe.settings import get_settings

    # the configured public address when there is one (a proxy may hide it from us)
    base = (get_settings().PUBLIC_URL or str(request.base_url)).rstrip("/")
    token = service.invite_token(user)
    session.commit()  # the new nonce, before the link is shown
    return f"{base}/invite/{user.id}?token={token}"


@router.get("/settings/users")
def users_page(
    request: Request,
    user: AdminUser,
    session: DbSession,
) -> Response:
    return _users_page(request, session, user)


@router.post("/settings/users")
def create_user(
    request: Request,
    user: AdminUser,
    session: DbSession,
    name: str = Form(""),
    email: str = Form(""),
    role: str = Form("agent"),
    password: str = Form(""),
    extension_id: str = Form(""),
    agent_email: str = Form(""),
    phone: str = Form(""),
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
    invite = {"email": created.email, "link": _invite_link(request, session, created)}
    flash(request, f"{created.email} was added. Send them the invitation link below.")
    return _users_page(request, session, user, invite=invite)


@router.post("/settings/users/{user_id}")
def update_user(
    request: Request,
    user_id: str,
    user: AdminUser,
    session: DbSession,
    role: str = Form(...),
    is_active: str = Form(""),
    extension_id: str = Form(""),
    agent_email: str = Form(""),
    phone: str = Form(""),
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
    user: AdminUser,
    session: DbSession,
) -> Response:
    try:
        target = service.get_user(session, user.company_id, user_id)
    except CallscribeError as exc:
        return _users_page(request, session, user, error=exc.message, status_code=404)
    if target.password_hash:
        # a new link replaces the password: the user chooses a new one
        target.password_hash = None
        close_all_user_sessions(session, target.id)
        session.commit()
    invite = {"email": target.email, "link": _invite_link(request, session, target)}
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
        keys=api_keys.list_api_keys(session, user.company_id),
        new_key=new_key,
        new_key_name=new_key_name,
        tab="api-keys",
    )


@router.get("/settings/api-keys")
def api_keys_page(
    request: Request,
    user: AdminUser,
    session: DbSession,
) -> Response:
    return _keys_page(request, session, user)


@router.post("/settings/api-keys")
def create_api_key(
    request: Request,
    user: AdminUser,
    session: DbSession,
    name: str = Form(""),
) -> Response:
    row, plain = api_keys.create_api_key(
        session, user.company_id, name.strip() or "API key", created_by=user.id
    )
    session.commit()
    # shown once: never stored in plain, never in a cookie or a URL
    return _keys_page(request, session, user, new_key=plain, new_key_name=row.name)


@router.post("/settings/api-keys/{key_id}/revoke")
def revoke_api_key(
    request: Request,
    key_id: uuid.UUID,
    user: AdminUser,
    session: DbSession,
) -> Response:
    try:
        row = api_keys.revoke_api_key(session, user.company_id, key_id)
        session.commit()
    except CallscribeError as exc:
        flash(request, exc.message, "error")
        return redirect(request, "/settings/api-keys")
    flash(request, f"API key {row.name} ({row.prefix}…) revoked.")
    return redirect(request, "/settings/api-keys")

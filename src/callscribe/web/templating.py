"""Jinja2 templates for every domain's views.py: one `templates` instance over
web/templates, and `render()`, which adds the signed-in user, the CSRF token and flash
messages to the context and writes the session cookie. See web/templates/README.md."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from markupsafe import Markup, escape
from starlette.responses import Response

from callscribe import __version__
from callscribe.auth.csrf import CSRF_FIELD, csrf_token
from callscribe.auth.permissions import Permission
from callscribe.auth.sessions import write_session_cookie
from callscribe.kit.timefmt import format_duration, format_moment, format_offset_ms
from callscribe.web.flash import pop_flashes, write_flash_cookie

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"  # mounted at /static by the app shell

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))


@pass_context
def csrf_input(ctx: Any) -> Markup:
    """`{{ csrf_input() }}` inside every <form method="post">."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        CSRF_FIELD, ctx.get("csrf_token", "")
    )


@pass_context
def format_datetime(ctx: Any, value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """`{{ when | dt }}`: in the signed-in user's zone (their own, else the company's,
    else UTC), with the zone named; `tz` in the context overrides it."""
    user = ctx.get("user")
    zone = ctx.get("tz") or (user.time_zone if user is not None else None)
    return format_moment(value, zone, fmt)


def time_ago(value: datetime | None) -> str:
    if value is None:
        return "never"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    seconds = int((datetime.now(UTC) - value).total_seconds())
    if seconds < 60:
        return "just now"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


def nl2br(value: str | None) -> Markup:
    return Markup("<br>").join(escape(value or "").split("\n"))


def static_url(path: str) -> str:
    """`{{ static_url('css/app.css') }}`: a path, not an absolute URL, so pages work
    behind a TLS-terminating proxy without mixed-content warnings."""
    return f"/static/{path.lstrip('/')}"


# Permission: menus show a link only when `user.can(Permission.X)` for the page behind it.
templates.env.globals.update(
    csrf_input=csrf_input, static_url=static_url, app_version=__version__, Permission=Permission
)
templates.env.filters.update(
    dt=format_datetime,
    duration=format_duration,
    ts=format_offset_ms,
    ago=time_ago,
    nl2br=nl2br,
)


def render(
    request: Request,
    name: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **ctx: Any,
) -> Response:
    """Render `name` with `ctx` plus `user` (auth.users.CurrentUser or None), `csrf_token` and
    `flashes`; writes the session cookie when needed."""
    context = {
        "user": getattr(request.state, "current_user", None),
        "csrf_token": csrf_token(request),
        "flashes": pop_flashes(request),
        "path": request.url.path,
        **ctx,
    }
    response = templates.TemplateResponse(
        request, name, context, status_code=status_code, headers=headers
    )
    return _write_cookies(request, response)


def redirect(request: Request, url: str, *, status_code: int = 303) -> Response:
    """A redirect after a form post (303), carrying flashed messages and the session.
    For htmx requests it answers with HX-Redirect so the whole page changes."""
    if request.headers.get("hx-request") and not request.headers.get("hx-boosted"):
        response: Response = Response(status_code=204, headers={"HX-Redirect": url})
    else:
        response = RedirectResponse(url, status_code=status_code)
    return _write_cookies(request, response)


def _write_cookies(request: Request, response: Response) -> Response:
    write_session_cookie(request, response)
    return write_flash_cookie(request, response)

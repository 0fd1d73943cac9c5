"""CSRF: every unsafe request that relies on the session cookie must send the session's
token, as the `csrf_token` form field or the `X-CSRF-Token` header (htmx sends the header
from the layout's `hx-headers`)."""

from __future__ import annotations

from fastapi import HTTPException, Request

from callscribe.auth.sessions import SESSION_COOKIE, load_session
from callscribe.security.crypto import constant_time_equals

CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def csrf_token(request: Request) -> str:
    return load_session(request).csrf


def csrf_ok(request: Request, submitted: str | None) -> bool:
    if not submitted or not request.cookies.get(SESSION_COOKIE):
        return False
    return constant_time_equals(load_session(request).csrf, submitted)


async def verify_csrf(request: Request) -> None:
    """For unsafe methods: the X-CSRF-Token header or the csrf_token form field must carry
    the session's token. Raises 403 otherwise. (FastAPI caches the parsed form, so the
    view can still read its fields.)"""
    if request.method in SAFE_METHODS:
        return
    submitted = request.headers.get(CSRF_HEADER)
    if not submitted:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            submitted = value if isinstance(value, str) else None
    if not csrf_ok(request, submitted):
        raise HTTPException(
            status_code=403,
            detail="The form's security token is missing or expired. Reload the page and "
            "try again.",
        )

"""Flash messages: shown once, on the next rendered page, carried in a signed cookie."""

from __future__ import annotations

from fastapi import Request
from itsdangerous import BadSignature
from starlette.responses import Response

from callscribe.auth.sessions import cookie_serializer, secure_cookies

FLASH_COOKIE = "cs_flash"


def flash(request: Request, message: str, level: str = "success") -> None:
    """Show `message` on the next rendered page (level: success, info, warning, error)."""
    pending = getattr(request.state, "flashes_out", None)
    if pending is None:
        pending = request.state.flashes_out = []
    pending.append([level, message])


def pop_flashes(request: Request) -> list[dict[str, str]]:
    raw = request.cookies.get(FLASH_COOKIE)
    out: list[dict[str, str]] = []
    if raw and not getattr(request.state, "flashes_read", False):
        request.state.flashes_read = True
        try:
            for level, message in cookie_serializer().loads(raw, max_age=300):
                out.append({"level": str(level), "message": str(message)})
        except (BadSignature, TypeError, ValueError):
            pass
    # messages flashed during this request and rendered right away
    for level, message in getattr(request.state, "flashes_out", None) or []:
        out.append({"level": level, "message": message})
    request.state.flashes_out = []
    return out


def write_flash_cookie(request: Request, response: Response) -> Response:
    """Write pending flash messages, or drop the cookie once they were shown."""
    pending = getattr(request.state, "flashes_out", None)
    if pending:
        response.set_cookie(
            FLASH_COOKIE,
            cookie_serializer().dumps(pending[-5:]),
            max_age=300,
            httponly=True,
            samesite="lax",
            secure=secure_cookies(request),
            path="/",
        )
        request.state.flashes_out = []
    elif getattr(request.state, "flashes_read", False):
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response

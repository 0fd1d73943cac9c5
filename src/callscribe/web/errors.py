"""The HTML error page, for a person's browser asking for a page."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from callscribe.web.templating import render

TITLES = {400: "Bad request", 401: "Sign in needed", 403: "Not allowed", 404: "Not found"}


def wants_page(request: Request) -> bool:
    """A person's browser asking for a page (not the API, not htmx or fetch)."""
    return (
        not request.url.path.startswith("/api/")
        and "text/html" in request.headers.get("accept", "")
        and not request.headers.get("hx-request")
    )


def error_page(request: Request, status: int, message: str | None) -> Response:
    try:
        return render(
            request,
            "error.html",
            status_code=status,
            title=TITLES.get(status, "Something went wrong"),
            message=message,
        )
    except Exception:  # never let the error page hide the error
        return JSONResponse(
            {"success": False, "error": {"code": "error", "message": message or "Error"}},
            status_code=status,
        )

"""The ASGI application: JSON API under /api, pages from each domain's views.py."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from callscribe import __version__
from callscribe.db import migrate
from callscribe.domains import domain_modules
from callscribe.errors import CallscribeError

log = logging.getLogger(__name__)
WEB_DIR = Path(__file__).parent


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query"))
        parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
    return "; ".join(parts) or "Invalid request."


def create_app(*, embedded_worker: bool = False) -> FastAPI:
    """`embedded_worker`: run queue consumer threads and the lost-job sweep in this
    process (the default single-machine install)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        migrate()
        from callscribe.worker import load_tasks

        load_tasks()  # this process enqueues the tasks the worker lists
        runner = None
        if embedded_worker:
            from callscribe.worker import WorkerRunner

            runner = WorkerRunner()
            runner.start()
        app.state.worker = runner
        try:
            yield
        finally:
            if runner is not None:
                await _in_thread(runner.stop)

    app = FastAPI(
        title="callscribe",
        version=__version__,
        description="Calls in, transcripts and Minutes out. Authenticate with "
        "`Authorization: Bearer <API key>` (or the `api_key` form field on /api/add-calls).",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
        lifespan=lifespan,
    )

    @app.exception_handler(CallscribeError)
    async def callscribe_error(request: Request, exc: CallscribeError) -> Response:
        if _wants_page(request):
            return _error_page(request, exc.status, exc.message)
        return JSONResponse(exc.to_dict(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        body = {
            "success": False,
            "error": {"code": "validation_error", "message": _validation_message(exc)},
        }
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else "Request failed."
        if _wants_page(request):
            return _error_page(
                request, exc.status_code, None if message == "Not Found" else message
            )
        if exc.status_code == 404 and message == "Not Found":
            message = f"No such endpoint: {request.url.path}"
        return JSONResponse(
            {"success": False, "error": {"code": code, "message": message}},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.get("/api/health", tags=["meta"])
    def health() -> dict:
        return {"success": True, "status": "ok", "version": __version__}

    for module in domain_modules("api"):
        app.include_router(module.router)
    views = domain_modules("views")
    for module in views:
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")

    if not any(getattr(r, "path", None) == "/" for r in app.routes):

        @app.get("/", response_class=HTMLResponse, include_in_schema=False)
        def home() -> str:
            return (
                "<!doctype html><title>callscribe</title><h1>callscribe</h1>"
                "<p>The server is running. The API and its docs: "
                '<a href="/api/docs">/api/docs</a>.</p>'
            )

    return app


def _wants_page(request: Request) -> bool:
    """A person's browser asking for a page (not the API, not htmx or fetch)."""
    return (
        not request.url.path.startswith("/api/")
        and "text/html" in request.headers.get("accept", "")
        and not request.headers.get("hx-request")
    )


def _error_page(request: Request, status: int, message: str | None) -> Response:
    from callscribe.web.templating import render

    titles = {400: "Bad request", 401: "Sign in needed", 403: "Not allowed", 404: "Not found"}
    try:
        return render(
            request,
            "error.html",
            status_code=status,
            title=titles.get(status, "Something went wrong"),
            message=message,
        )
    except Exception:  # never let the error page hide the error
        return JSONResponse(
            {"success": False, "error": {"code": "error", "message": message or "Error"}},
            status_code=status,
        )


def create_served_app() -> FastAPI:
    """Factory for `callscribe serve` (uvicorn imports it in each web worker process)."""
    import os

    return create_app(embedded_worker=os.environ.get("CALLSCRIBE_EMBEDDED_WORKER", "1") == "1")


async def _in_thread(fn) -> None:  # type: ignore[no-untyped-def]
    done = threading.Event()

    def run() -> None:
        try:
            fn()
        finally:
            done.set()

    threading.Thread(target=run, daemon=True).start()
    import anyio

    await anyio.to_thread.run_sync(done.wait)

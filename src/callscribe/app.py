"""The app shell: the ASGI application. It mounts the routers of the modules listed in
ROUTERS (JSON API under /api, pages from the domains' views.py), wires auth to the
accounts domain, installs the error handlers and serves the static files."""

from __future__ import annotations

import json
import logging
import math
import secrets
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from callscribe import __version__, observability
from callscribe.accounts import api as accounts_api
from callscribe.accounts import service as accounts
from callscribe.accounts import views as accounts_views
from callscribe.analytics import api as analytics_api
from callscribe.analytics import views as analytics_views
from callscribe.analytics.metrics import tagged_engagements
from callscribe.auth import deps as auth
from callscribe.calls import api as calls_api
from callscribe.calls import trackers_api
from callscribe.calls import views as calls_views
from callscribe.connectors import api as connectors_api
from callscribe.connectors import views as connectors_views
from callscribe.crm import api as crm_api
from callscribe.db import get_engine, migrate, session_scope
from callscribe.delivery import api as delivery_api
from callscribe.delivery import views as delivery_views
from callscribe.errors import CallscribeError, ErrorCode, from_validation
from callscribe.ingest import api as ingest_api
from callscribe.ingest.zipbatch import api as zipbatch_api
from callscribe.ingest.zipbatch import views as zipbatch_views
from callscribe.journey import api as journey_api
from callscribe.journey import views as journey_views
from callscribe.minutes import api as minutes_api
from callscribe.minutes import views as minutes_views
from callscribe.queue import configure_queue
from callscribe.retention import api as retention_api
from callscribe.retention import views as retention_views
from callscribe.reviews import api as reviews_api
from callscribe.reviews import views as reviews_views
from callscribe.search import api as search_api
from callscribe.search import service as search_service
from callscribe.search import views as search_views
from callscribe.settings import get_settings
from callscribe.storage import get_store
from callscribe.web.errors import error_page, wants_page
from callscribe.web.security_headers import (
    REDOC_LOAD_STYLE_HASHES,
    SecurityHeadersMiddleware,
    content_security_policy,
)
from callscribe.web.templating import STATIC_DIR, templates

log = logging.getLogger(__name__)

# Every router the app serves, in mounting order: the JSON APIs, then the pages. A new
# domain's api/views module is added here.
ROUTERS: tuple[APIRouter, ...] = (
    accounts_api.router,
    crm_api.router,
    calls_api.router,
    trackers_api.router,
    minutes_api.router,
    minutes_api.settings_router,
    delivery_api.router,
    connectors_api.router,
    ingest_api.router,
    zipbatch_api.router,
    journey_api.router,
    search_api.router,
    analytics_api.router,
    reviews_api.router,
    retention_api.router,
    accounts_views.router,
    calls_views.router,
    minutes_views.router,
    delivery_views.router,
    connectors_views.router,
    journey_views.router,
    search_views.router,
    analytics_views.router,
    zipbatch_views.router,
    reviews_views.router,
    retention_views.router,
)


def create_app(*, embedded_worker: bool = False) -> FastAPI:
    """`embedded_worker`: run queue consumer threads and the lost-job sweep in this
    process (the default single-machine install)."""
    # search's `tag` filter: the engagements carrying a review tag (search cannot import
    # reviews, which import search)
    search_service.set_tag_engagements(tagged_engagements)

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
        docs_url=None,  # served below from the vendored Swagger UI, not a CDN
        openapi_url="/api/openapi.json",
        redoc_url=None,
        lifespan=lifespan,
    )
    auth.install(app, user_loader=accounts.user_record)

    @app.exception_handler(CallscribeError)
    async def callscribe_error(request: Request, exc: CallscribeError) -> Response:
        if wants_page(request):
            response = error_page(request, exc.status, exc.message)
        else:
            response = JSONResponse(exc.to_dict(), status_code=exc.status)
        retry_after = getattr(exc, "retry_after_s", None)  # 429 rate limits, 503 busy
        if retry_after is not None:
            response.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
        return response

    @app.exception_handler(PoolTimeout)
    async def pool_exhausted(_request: Request, _exc: PoolTimeout) -> JSONResponse:
        # every database connection is busy: shed load now, the client retries
        log.warning("database pool exhausted; answered 503")
        body = {
            "success": False,
            "error": {"code": ErrorCode.BUSY, "message": "The server is busy; retry shortly."},
        }
        return JSONResponse(body, status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        error = from_validation(exc, limit=5, skip_loc=("body", "query"))
        return JSONResponse(error.to_dict(), status_code=error.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else "Request failed."
        if wants_page(request):
            return error_page(request, exc.status_code, None if message == "Not Found" else message)
        if exc.status_code == 404 and message == "Not Found":
            message = f"No such endpoint: {request.url.path}"
        return JSONResponse(
            {"success": False, "error": {"code": code, "message": message}},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.get("/api/docs", include_in_schema=False)
    def api_docs(request: Request) -> Response:
        # the vendored Swagger UI under /static, started by static/js/api_docs.js
        return templates.TemplateResponse(
            request, "api_docs.html", {"openapi_url": "/api/openapi.json", "redoc": False}
        )

    @app.get("/api/redoc", include_in_schema=False)
    def api_redoc(request: Request) -> Response:
        # the vendored ReDoc standalone bundle: works offline, nothing from a CDN; its
        # styles go into <style> elements carrying this response's nonce
        nonce = secrets.token_urlsafe(16)
        return templates.TemplateResponse(
            request,
            "api_docs.html",
            {"openapi_url": "/api/openapi.json", "redoc": True, "style_nonce": nonce},
            headers={
                "Content-Security-Policy": content_security_policy(
                    style_nonce=nonce, style_hashes=REDOC_LOAD_STYLE_HASHES
                )
            },
        )

    @app.get("/api/health", tags=["meta"])
    def health() -> dict:
        return {"success": True, "status": "ok", "version": __version__}

    @app.get("/healthz", tags=["meta"], summary="Liveness: the process answers (no database)")
    async def healthz() -> dict:
        return {"status": "ok", "version": __version__}

    @app.get(
        "/readyz",
        tags=["meta"],
        summary="Readiness: database, queue and blob store reachable (503 names which failed)",
        responses={503: {"description": "One or more dependencies unreachable"}},
    )
    def readyz() -> JSONResponse:
        checks = readiness()
        ok = all(v == "ok" for v in checks.values())
        body: dict[str, object] = {"status": "ok" if ok else "unavailable", "checks": checks}
        if not ok:
            body["failed"] = [k for k, v in checks.items() if v != "ok"]
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(observability.REGISTRY), media_type=CONTENT_TYPE_LATEST)

    for router in ROUTERS:
        app.include_router(router)
    auth.release_sessions_before_serialization(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(BodyIdleTimeout)
    trusted = get_settings().trusted_proxies
    if trusted:
        # X-Forwarded-For / -Proto only from the configured proxies (issue 17 #12); the
        # server itself runs with proxy_headers off, so this setting alone decides
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=trusted)
    # around every route, static files and the error handlers
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(observability.MetricsMiddleware)  # outermost: times everything
    return app


# -- operations: readiness and the values /metrics reads when scraped --------------------


def _check(name: str, probe: Callable[[], object]) -> str:
    try:
        probe()
    except Exception as exc:  # noqa: BLE001  (any failure: not ready)
        # the type only: a driver's message can carry a URL with its password
        log.warning("readyz: %s unreachable (%s)", name, type(exc).__name__)
        return f"unreachable ({type(exc).__name__})"
    return "ok"


def _ping_database() -> None:
    from sqlalchemy import text

    with get_engine().connect() as conn:
        conn.execute(text("SELECT 1"))


def _ping_store() -> None:
    store = get_store()
    ping = getattr(store, "ping", None)  # the S3 store's HEAD bucket
    if ping is not None:
        ping()
    else:
        store.exists("readyz/probe")


def readiness() -> dict[str, str]:
    return {
        "database": _check("database", _ping_database),
        "queue": _check("queue", lambda: configure_queue().pending_count()),
        "store": _check("store", _ping_store),
    }


def _calls_by_state() -> dict[str, float]:
    from sqlalchemy import func, select

    from callscribe.calls.models import Engagement, EngagementStatus

    with session_scope() as session:
        rows = session.execute(
            select(Engagement.status, func.count()).group_by(Engagement.status)
        ).all()
    counts: dict[str, float] = {status.value: 0 for status in EngagementStatus}
    counts.update({str(status): float(n) for status, n in rows})
    return counts


def _queue_depth() -> dict[str, float]:
    huey = configure_queue()
    return {"pending": float(huey.pending_count()), "scheduled": float(huey.scheduled_count())}


observability.REGISTRY.register(
    observability.ScrapeCollector(
        {
            "callscribe_calls": ("Engagements by status", "state", _calls_by_state),
            "callscribe_queue_depth": ("Jobs in the task queue", "kind", _queue_depth),
        }
    )
)


class BodyIdleTimeout:
    """Cut off a request whose body stops arriving (a slow-loris upload): uvicorn has no
    read timeout inside a body. After BODY_IDLE_TIMEOUT_S without a chunk the app sees
    the client disconnect (uploads discard what they staged) and the client gets 408
    with Connection: close."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = get_settings().BODY_IDLE_TIMEOUT_S
        timed_out = False
        started = False

        async def guarded_receive() -> Message:
            nonlocal timed_out
            if timed_out:
                return {"type": "http.disconnect"}
            with anyio.move_on_after(limit):
                return await receive()
            timed_out = True
            log.info("request body idle for %ss; cut off", limit)
            return {"type": "http.disconnect"}

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if timed_out:
                    headers = [(k, v) for k, v in message.get("headers", []) if k != b"connection"]
                    message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        try:
            await self.app(scope, guarded_receive, tracked_send)
        except Exception:
            if not (timed_out and not started):
                raise
        if timed_out and not started:
            error = {"code": ErrorCode.HTTP_ERROR, "message": "The request body stopped arriving."}
            body = json.dumps({"success": False, "error": error}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 408,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"connection", b"close"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})


def create_served_app() -> FastAPI:
    """Factory for `callscribe serve` (uvicorn imports it in each web worker process)."""
    import os

    settings = get_settings()
    # a spawned web worker starts with bare logging: the same format as the parent's
    observability.configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)
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

"""Operations: the Prometheus metrics this process records (the registry /metrics
serves), the HTTP latency middleware, the request id, and structured JSON logs
(CALLSCRIBE_LOG_FORMAT=json). Values read at scrape time (calls by state, queue depth)
are collected by the shell (app.py), which may look into the domains; this module sits
with the kit and imports nothing of them."""

from __future__ import annotations

import contextvars
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_LATENCY = Histogram(
    "callscribe_http_request_duration_seconds",
    "HTTP request latency, by method, route template and status class",
    ["method", "route", "status"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
STEP_DURATION = Histogram(
    "callscribe_pipeline_step_duration_seconds",
    "Duration of one pipeline step over one engagement",
    ["step"],
    registry=REGISTRY,
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
)
DELIVERIES = Counter(
    "callscribe_deliveries",
    "Delivery attempts by outcome (succeeded, retrying, failed)",
    ["outcome"],
    registry=REGISTRY,
)

# -- request id ---------------------------------------------------------------------------

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "callscribe_request_id", default=None
)
REQUEST_ID_HEADER = "X-Request-ID"
_ID_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def new_request_id() -> str:
    """A fresh id, for a request without a usable X-Request-ID and for work that no
    request started (a sweep, a script: its tasks get one too)."""
    return uuid.uuid4().hex


def _clean_request_id(value: str | None) -> str:
    """A client's X-Request-ID when it is short and plain (it goes into logs), else ours."""
    if value and len(value) <= 64 and set(value) <= _ID_CHARS:
        return value
    return new_request_id()


class MetricsMiddleware:
    """Times every HTTP request by its route template (never the raw path: ids would
    make a series each), gives it a request id (X-Request-ID in and out) for the logs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        raw = headers.get(REQUEST_ID_HEADER.lower().encode())
        request_id = _clean_request_id(raw.decode("latin-1") if raw else None)
        token = REQUEST_ID.set(request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message = {
                    **message,
                    "headers": [
                        *message.get("headers", []),
                        (REQUEST_ID_HEADER.encode(), request_id.encode()),
                    ],
                }
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)
            route = scope.get("route")
            template = getattr(route, "path", None) or (
                "/static" if scope.get("path", "").startswith("/static/") else "unmatched"
            )
            HTTP_LATENCY.labels(scope.get("method", ""), template, f"{status // 100}xx").observe(
                time.perf_counter() - started
            )


class ScrapeCollector(Collector):
    """Gauges computed when /metrics is scraped, from functions the shell provides;
    one that fails is left out of that scrape (the scrape itself never fails)."""

    def __init__(self, sources: dict[str, tuple[str, str, Callable[[], dict[str, float]]]]):
        self.sources = sources  # metric name -> (help, label name, read)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, (doc, label, read) in self.sources.items():
            try:
                values = read()
            except Exception:  # noqa: BLE001  (a database or queue outage: no value)
                logging.getLogger(__name__).warning("metrics: %s unavailable", name)
                continue
            family = GaugeMetricFamily(name, doc, labels=[label] if label else [])
            for key, value in values.items():
                family.add_metric([key] if label else [], value)
            yield family

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return []  # collected at scrape time only


# -- structured logs ---------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, request_id when there is
    one, exception text when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        if request_id:
            out["request_id"] = request_id
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


JsonFormatter.converter = time.gmtime  # type: ignore[assignment]


def configure_logging(level: str, fmt: str) -> None:
    """The process's root logger: text (the default) or json."""
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # fontTools logs every subset table at INFO while a PDF export embeds its font
    for noisy in ("huey", "alembic", "faster_whisper", "httpx", "fontTools", "botocore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

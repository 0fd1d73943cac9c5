"""Fixtures for delivery: real receivers on 127.0.0.1 (HTTP and SMTP), calls that were
really processed (turns in, the local analyzer, `completed`, `call.completed` written to
the outbox and dispatched after the commit, as a worker does), and automations created
through the service."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import CompanyCtx
from tests.security.conftest import network  # noqa: F401  (the DNS stub fixture, for SMTP)

TURNS = [
    ("agent", "Thank you for calling Northwind billing, this is Dana. How can I help you today?"),
    ("customer", "Hi Dana, I was charged twice for my March invoice and I need a refund."),
    ("agent", "I'm sorry about that. I can see the duplicate payment of 49 dollars on March 3rd."),
    ("agent", "I will start the refund now and I will send you a confirmation email today."),
    ("customer", "Great. Can you also make sure this does not happen again next month?"),
    ("agent", "Yes, I will check the payment retry settings on your account by Friday."),
    ("customer", "Perfect, thank you so much for your help, that was quick."),
    ("agent", "You're welcome. The refund should arrive within five business days. Goodbye."),
]


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


class Receiver:
    """A real HTTP receiver. `replies` are used in order, then `default`; `check` may
    turn a request into a reply (e.g. the Slack validator)."""

    def __init__(
        self,
        replies: list[Reply] | None = None,
        check: Callable[[Recorded], Reply | None] | None = None,
    ):
        self.replies = list(replies or [])
        self.default = Reply()
        self.check = check
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                rec = Recorded(self.command, self.path, dict(self.headers), body, time.monotonic())
                with outer._lock:
                    outer.requests.append(rec)
                    reply = outer.replies.pop(0) if outer.replies else outer.default
                if outer.check is not None:
                    reply = outer.check(rec) or reply
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                try:
                    self.send_response(reply.status)
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:
                    pass  # the client gave up (timeout tests)

            do_POST = do_PUT = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, n: int, timeout: float = 30) -> list[Recorded]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"receiver got {len(self.requests)} requests, wanted {n}")
            time.sleep(0.05)
        return list(self.requests)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def dispatching() -> Iterator[None]:
    """This test process dispatches outbox events to the consumers worker.py wires, as
    a worker does (the calls it processes directly fire their automations)."""
    from callscribe import events, worker

    events.set_consumers(worker.CONSUMERS)
    yield
    events.set_consumers(None)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def fast_retries(app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Retry delays short enough for a test, a small attempt budget."""
    from callscribe.settings import reset_settings

    monkeypatch.setenv("CALLSCRIBE_DELIVERY_BACKOFF_S", "0.2")
    monkeypatch.setenv("CALLSCRIBE_DELIVERY_MAX_ATTEMPTS", "3")
    reset_settings()


def make_agent(
    company: CompanyCtx, name: str = "Dana Agent", email: str | None = "dana@example.com"
) -> uuid.UUID:
    from callscribe.accounts import service as accounts
    from callscribe.db import session_scope

    with session_scope() as s:
        agent = accounts.upsert_agent(s, company.id, name=name, email=email, extension_id=None)
        return agent.id


def processed_call(
    company: CompanyCtx,
    *,
    agent_id: uuid.UUID | None = None,
    direction: str | None = "inbound",
    turns: list[tuple[str, str]] | None = None,
    duration_s: float = 95.0,
) -> uuid.UUID:
    """A call whose transcript is in (as a connector delivers one), processed by the real
    pipeline: analyzed by the local analyzer, marked completed, call.completed dispatched."""
    from callscribe.calls.models import Engagement, Turn
    from callscribe.db import session_scope
    from callscribe.pipeline.runner import process_call

    call_id = uuid.uuid4()
    with session_scope() as s:
        s.add(
            Engagement(
                id=call_id,
                company_id=company.id,
                channel="voice",
                source="test",
                direction=direction,
                agent_id=agent_id,
                customer_name="Pat Customer",
                duration_s=duration_s,
                status="received",
                meta={"transcript_complete": True},
            )
        )
        s.flush()
        for seq, (role, text) in enumerate(turns or TURNS):
            s.add(
                Turn(
                    company_id=company.id,
                    engagement_id=call_id,
                    seq=seq,
                    role=role,
                    start_ms=seq * 5000,
                    end_ms=seq * 5000 + 4000,
                    text=text,
                )
            )
    assert process_call(call_id) == "completed"
    return call_id


def add_automation(company: CompanyCtx, **fields: Any) -> uuid.UUID:
    from callscribe.db import session_scope
    from callscribe.delivery import service
    from callscribe.delivery.schemas import AutomationIn

    fields.setdefault("name", f"{fields['kind']} automation")
    with session_scope() as s:
        automation, _ = service.create_automation(s, company.id, AutomationIn(**fields))
        return automation.id


def deliveries_of(automation_id: uuid.UUID) -> list[Any]:
    from sqlalchemy import select

    from callscribe.db import session_scope
    from callscribe.delivery.models import Delivery

    with session_scope() as s:
        rows = s.scalars(select(Delivery).where(Delivery.automation_id == automation_id))
        return sorted(rows, key=lambda d: d.created_at)


def attempts_of(delivery_id: uuid.UUID) -> list[Any]:
    from callscribe.db import session_scope
    from callscribe.delivery import service

    with session_scope() as s:
        return service.attempts_of(s, [delivery_id])[delivery_id]


def wait_delivery(
    automation_id: uuid.UUID,
    statuses: tuple[str, ...] = ("succeeded", "failed"),
    timeout: float = 60,
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = deliveries_of(automation_id)
        if found and found[-1].status in statuses:
            return found[-1]
        if time.monotonic() > deadline:
            state = found[-1].status if found else "none"
            raise AssertionError(f"delivery still {state} after {timeout}s")
        time.sleep(0.1)


@pytest.fixture
def private_urls(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[None]:
    """Sender tests without a database: let them reach receivers on 127.0.0.1."""
    from callscribe.settings import reset_settings

    monkeypatch.setenv("CALLSCRIBE_ALLOW_PRIVATE_URLS", "true")
    monkeypatch.setenv("CALLSCRIBE_DATA_DIR", str(tmp_path / "data"))
    reset_settings()
    yield
    reset_settings()

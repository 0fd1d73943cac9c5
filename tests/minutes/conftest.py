"""Fixtures of the minutes tests: the real dialogues in tests/data/transcripts, and a
local HTTP server speaking the OpenAI chat-completions protocol."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from callscribe.minutes.schemas import TurnIn

DATA = Path(__file__).resolve().parents[1] / "data" / "transcripts"


def abcd_dialogues() -> list[tuple[str, list[TurnIn]]]:
    out = []
    for convo in json.loads((DATA / "abcd" / "abcd_sample.json").read_text()):
        turns = [
            TurnIn(role=role, text=text)
            for role, text in convo["original"]
            if role in ("agent", "customer")
        ]
        out.append((f"abcd-{convo['convo_id']}", turns))
    return out


def harper_valley_calls() -> list[tuple[str, list[TurnIn]]]:
    out = []
    for path in sorted((DATA / "harper_valley").glob("*.transcript.json")):
        turns = [
            TurnIn(
                role=seg["speaker_role"]
                if seg["speaker_role"] in ("agent", "customer")
                else "unknown",
                text=seg["transcript"],
                start_ms=seg["start_ms"],
                end_ms=seg["start_ms"] + seg["duration_ms"],
            )
            for seg in json.loads(path.read_text())
        ]
        turns.sort(key=lambda t: t.start_ms)
        out.append((f"harper-{path.name.split('.')[0]}", turns))
    return out


def qmsum_meetings() -> list[tuple[str, list[TurnIn]]]:
    out = []
    for path in sorted((DATA / "qmsum").glob("*.json")):
        data = json.loads(path.read_text())
        turns = [
            TurnIn(role="unknown", speaker=t["speaker"], text=t["content"])
            for t in data["meeting_transcripts"]
        ]
        out.append((f"qmsum-{path.stem}", turns))
    return out


def all_dialogues() -> list[tuple[str, list[TurnIn]]]:
    return abcd_dialogues() + harper_valley_calls() + qmsum_meetings()


# --------------------------------------------------------------------------- fake provider


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict -> JSON; str -> sent as is
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


def completion(content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": "test-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class ChatServer:
    """An OpenAI-compatible /v1/chat/completions endpoint on 127.0.0.1 whose answers
    the test scripts with ``responder(request_body, n) -> Reply``; records requests."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.responder: Callable[[dict[str, Any], int], Reply] = lambda body, n: Reply(
            404, {"error": "unset"}
        )
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append(
                    Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                reply = server.responder(body, len(server.requests))
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                payload = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                data = payload.encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def start(self) -> ChatServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    server = ChatServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _loopback_endpoints_allowed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The fake AI/speech providers listen on 127.0.0.1, which the outbound guard refuses
    unless an admin allowed private URLs (as tests/conftest.py's app_env does)."""
    from callscribe.settings import reset_settings

    monkeypatch.setenv("CALLSCRIBE_ALLOW_PRIVATE_URLS", "true")
    reset_settings()
    yield
    reset_settings()

"""The contract every automation kind keeps (CONVENTIONS §6): one test class,
parametrised over the registry's senders, each against its own real receiver."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from callscribe.delivery.senders import Message, SmtpConfig, Target, registry
from callscribe.delivery.service import sample_body
from callscribe.delivery.webhook import encode_body
from tests.conftest import free_port
from tests.delivery.conftest import Receiver, Reply
from tests.delivery.smtp_server import SmtpSink, start_smtp

SUBJECT = sample_body()["minutes"]["subject"]


@dataclass
class Endpoint:
    """A kind's working receiver, how to point a target at a dead one, how to make the
    receiver refuse, and what it received."""

    target: Target
    dead: Target
    refusing: Target
    received: Any  # () -> list[str]: what arrived, as text


def _http(kind: str) -> Iterator[Endpoint]:
    ok, refusing = Receiver(), Receiver()
    refusing.default = Reply(status=400, body=b"invalid_payload")
    try:
        dead = f"http://127.0.0.1:{free_port()}/hook"
        yield Endpoint(
            target=Target(kind=kind, name=kind, url=ok.url, secret="k", whsec="whsec_a2V5"),
            dead=Target(kind=kind, name=kind, url=dead),
            refusing=Target(kind=kind, name=kind, url=refusing.url),
            received=lambda: [r.body.decode() for r in ok.requests],
        )
    finally:
        ok.close()
        refusing.close()


def _email() -> Iterator[Endpoint]:
    sink = SmtpSink(refuse={"nobody@example.com": "550 5.1.1 No such user"})
    controller, port = start_smtp(sink)
    try:
        smtp = SmtpConfig("127.0.0.1", port, "none", None, None, "cs@example.com")
        dead = SmtpConfig("127.0.0.1", free_port(), "none", None, None, "cs@example.com")
        yield Endpoint(
            target=Target(kind="email", name="e", recipients=("a@example.com",), smtp=smtp),
            dead=Target(kind="email", name="e", recipients=("a@example.com",), smtp=dead),
            refusing=Target(kind="email", name="e", recipients=("nobody@example.com",), smtp=smtp),
            received=lambda: [str(m.message) for m in sink.messages],
        )
    finally:
        controller.stop()


@pytest.fixture(params=sorted(registry()))
def endpoint(request: pytest.FixtureRequest, private_urls: None) -> Iterator[Endpoint]:
    yield from (_email() if request.param == "email" else _http(request.param))


def message() -> Message:
    return Message(
        uuid.uuid4(),
        "call.completed",
        encode_body(sample_body()),
        {"call_url": "https://cs.example/calls/1"},
    )


class TestSenderContract:
    def test_the_registry_knows_it_by_its_kind(self, endpoint: Endpoint) -> None:
        assert registry()[endpoint.target.kind].kind == endpoint.target.kind

    def test_a_healthy_receiver_gets_the_minutes(self, endpoint: Endpoint) -> None:
        result = registry()[endpoint.target.kind].send(endpoint.target, message())
        assert result.ok and not result.error
        assert result.http_status == 200 or (result.smtp_reply or "").startswith("250")
        (received,) = endpoint.received()
        assert "billing question" in received

    def test_an_unreachable_receiver_is_a_retryable_failure(self, endpoint: Endpoint) -> None:
        result = registry()[endpoint.target.kind].send(endpoint.dead, message())
        assert not result.ok and result.retryable and result.error

    def test_a_refusal_is_final_and_keeps_the_receivers_reply(self, endpoint: Endpoint) -> None:
        result = registry()[endpoint.target.kind].send(endpoint.refusing, message())
        assert not result.ok and not result.retryable
        reply = result.response if result.http_status else result.smtp_reply
        assert reply and ("invalid_payload" in reply or reply.startswith("550"))

"""Webhooks: the documented body for a real processed call, both signatures, and the
retry behaviour against receivers that are down, slow, failing or rate limiting."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from standardwebhooks import Webhook

from callscribe.settings import get_settings
from tests.conftest import AUDIO, CompanyCtx, LiveServer, free_port, wait_for_status
from tests.delivery.conftest import (
    Receiver,
    Reply,
    add_automation,
    attempts_of,
    deliveries_of,
    make_agent,
    processed_call,
    wait_delivery,
)

SECRET = "s3cret-signing-key"


def assert_documented_body(body: dict) -> None:
    assert list(body) == ["event", "call", "minutes", "action_items"]
    assert body["event"] == "call.completed"
    documented = {"id", "agent_name", "direction", "duration_sec", "status"}
    link_back = {"url", "external_id", "started_at", "customer", "channel"}  # issue 18
    assert set(body["call"]) == documented | link_back
    customer = body["call"]["customer"]
    assert customer is None or set(customer) == {"id", "name"}
    assert set(body["minutes"]) == {"subject", "summary", "sentiment", "outcome", "sections"}
    for section in body["minutes"]["sections"]:
        assert set(section) == {"heading", "bullets"}
        assert isinstance(section["bullets"], list)
    for item in body["action_items"]:
        assert set(item) == {"title", "priority", "status"}


def verify_signatures(request, secret: str = SECRET) -> dict:  # type: ignore[no-untyped-def]
    """The receiver's side: our own HMAC code, then the standardwebhooks package."""
    expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["X-Callscribe-Signature"], expected)
    whsec = "whsec_" + base64.b64encode(secret.encode()).decode()
    headers = {k.lower(): v for k, v in request.headers.items()}
    return Webhook(whsec).verify(request.body, headers)


@pytest.mark.slow
def test_real_processed_call_reaches_receiver_with_documented_body_and_signatures(
    live_server: LiveServer, company: CompanyCtx, receiver: Receiver
) -> None:
    """GIVEN a signed webhook automation and an agent
    WHEN a recording is uploaded through /api/add-calls and processed by the server
    THEN the receiver gets exactly the documented body, verifiable with our HMAC and
    with the standardwebhooks package, and the call stays completed."""
    agent_id = make_agent(company)
    with live_server.client(headers=company.headers) as api:
        created = api.post(
            "/api/automations",
            json={"kind": "webhook", "name": "CRM", "url": receiver.url, "secret": SECRET},
        )
        assert created.status_code == 201, created.text
        with (AUDIO / "stereo_diarization.wav").open("rb") as fh:
            answer = api.post(
                "/api/add-calls",
                data={"user_id": str(agent_id), "direction": "outbound"},
                files={"call": ("stereo_diarization.wav", fh, "audio/wav")},
            )
        assert answer.status_code == 201, answer.text
        call_id = answer.json()["call_id"]
        call = wait_for_status(api, call_id)
        assert call["status"] == "completed"
        (request,) = receiver.wait_for(1)
        assert request.method == "POST"
        body = verify_signatures(request)
        assert body == json.loads(request.body)
        assert_documented_body(body)
        assert body["call"] == {
            "id": call_id,
            "agent_name": "Dana Agent",
            "direction": "outbound",
            "duration_sec": round(call["duration_seconds"]),
            "status": "completed",
            "url": f"{get_settings().public_url}/calls/{call_id}",
            "external_id": body["call"]["external_id"],
            "started_at": body["call"]["started_at"],
            "customer": body["call"]["customer"],
            "channel": "voice",
        }
        assert body["call"]["started_at"] == call.get("started_at") or (
            body["call"]["started_at"] is None
        )
        assert body["minutes"]["subject"] == call["minutes"]["subject"]
        assert body["minutes"]["summary"] == call["minutes"]["summary"]
        assert [i["title"] for i in body["action_items"]] == [
            i["title"] for i in call["action_items"]
        ]
        assert request.headers["webhook-id"].startswith("msg_")
        assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 120
        again = api.get(f"/api/calls/{call_id}").json()
        assert again["status"] == "completed"
        assert again["processing_time_ms"] == call["processing_time_ms"]
        automation_id = created.json()["id"]
        log = api.get(f"/api/automations/{automation_id}/deliveries").json()
        (delivery,) = log["deliveries"]
        assert delivery["status"] == "succeeded"
        assert delivery["call_id"] == call_id
        assert delivery["attempt_log"][0]["http_status"] == 200


def test_put_method_and_no_secret_still_carries_standard_webhooks_headers(
    company: CompanyCtx, receiver: Receiver
) -> None:
    """Without a signing secret there is no X-Callscribe-Signature, but the Standard
    Webhooks headers are signed with the key handed out once at creation."""
    from callscribe.db import session_scope
    from callscribe.delivery import service
    from callscribe.delivery.schemas import AutomationIn

    with session_scope() as s:
        automation, whsec = service.create_automation(
            s, company.id, AutomationIn(kind="webhook", name="Zap", url=receiver.url, method="PUT")
        )
        automation_id = automation.id
    assert whsec and whsec.startswith("whsec_")
    processed_call(company)
    (delivery,) = deliveries_of(automation_id)
    assert service.attempt_delivery(delivery.id) is None
    (request,) = receiver.requests
    assert request.method == "PUT"
    assert "X-Callscribe-Signature" not in request.headers
    body = Webhook(whsec).verify(request.body, {k.lower(): v for k, v in request.headers.items()})
    assert_documented_body(body)


def _call_stays_completed(call_id, started: float, finished: float) -> None:  # type: ignore[no-untyped-def]
    from callscribe.calls.models import Engagement
    from callscribe.db import session_scope

    with session_scope() as s:
        call = s.get(Engagement, call_id)
        assert call.status == "completed"
        # processing never waited on the receiver
        assert call.processing_time_ms is not None
        assert call.processing_time_ms <= (finished - started) * 1000 + 50


@pytest.mark.slow
def test_receiver_down_is_retried_with_backoff_until_attempts_run_out(
    fast_retries: None, live_server: LiveServer, company: CompanyCtx
) -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    automation_id = add_automation(company, kind="webhook", url=url, secret=SECRET)
    started = time.monotonic()
    call_id = processed_call(company)
    finished = time.monotonic()
    delivery = wait_delivery(automation_id)
    assert delivery.status == "failed"
    attempts = attempts_of(delivery.id)
    assert [a.attempt for a in attempts] == [1, 2, 3]
    assert all(not a.ok and a.http_status is None for a in attempts)
    assert all("connect" in (a.error or "").lower() for a in attempts)
    assert [a.retry_in_s for a in attempts] == [0.2, 0.4, None]  # exponential, then give up
    _call_stays_completed(call_id, started, finished)


@pytest.mark.slow
def test_receiver_slower_than_timeout_is_retried_with_the_same_webhook_id(
    fast_retries: None, live_server: LiveServer, company: CompanyCtx
) -> None:
    receiver = Receiver([Reply(delay_s=3.0)])  # then answers 200 at once
    try:
        automation_id = add_automation(
            company, kind="webhook", url=receiver.url, secret=SECRET, timeout_s=1
        )
        started = time.monotonic()
        call_id = processed_call(company)
        finished = time.monotonic()
        delivery = wait_delivery(automation_id)
        assert delivery.status == "succeeded"
        first, second = attempts_of(delivery.id)
        assert not first.ok and "Timed out after 1 s" in first.error
        assert first.duration_ms < 2500
        assert second.ok and second.http_status == 200
        requests = receiver.wait_for(2)
        assert requests[0].headers["webhook-id"] == requests[1].headers["webhook-id"]
        assert requests[0].body == requests[1].body
        for request in requests:
            verify_signatures(request)
        _call_stays_completed(call_id, started, finished)
    finally:
        receiver.close()


@pytest.mark.slow
def test_500_then_200_succeeds_on_the_second_attempt(
    fast_retries: None, live_server: LiveServer, company: CompanyCtx
) -> None:
    from callscribe.observability import REGISTRY

    def outcomes() -> tuple[float, float]:  # the /metrics counters of this process
        return tuple(  # type: ignore[return-value]
            REGISTRY.get_sample_value("callscribe_deliveries_total", {"outcome": o}) or 0.0
            for o in ("retrying", "succeeded")
        )

    before = outcomes()
    receiver = Receiver([Reply(status=500, body=b"database on fire")])
    try:
        automation_id = add_automation(company, kind="webhook", url=receiver.url)
        call_id = processed_call(company)
        delivery = wait_delivery(automation_id)
        assert delivery.status == "succeeded"
        assert outcomes() == (before[0] + 1, before[1] + 1)
        first, second = attempts_of(delivery.id)
        assert (first.http_status, first.response, first.ok) == (500, "database on fire", False)
        assert first.retry_in_s == 0.2
        assert (second.http_status, second.ok) == (200, True)
        a, b = receiver.wait_for(2)
        assert a.headers["webhook-id"] == b.headers["webhook-id"] == f"msg_{delivery.id.hex}"
        assert b.at - a.at >= 0.2
        _call_stays_completed(call_id, 0, 10**6)
    finally:
        receiver.close()


@pytest.mark.slow
def test_429_with_retry_after_waits_as_told(
    fast_retries: None, live_server: LiveServer, company: CompanyCtx
) -> None:
    receiver = Receiver([Reply(status=429, body=b"slow down", headers={"Retry-After": "2"})])
    try:
        automation_id = add_automation(company, kind="webhook", url=receiver.url)
        processed_call(company)
        delivery = wait_delivery(automation_id)
        assert delivery.status == "succeeded"
        first, second = attempts_of(delivery.id)
        assert first.http_status == 429 and first.retry_in_s == 2.0
        a, b = receiver.wait_for(2)
        assert b.at - a.at >= 2.0
    finally:
        receiver.close()


def test_client_errors_are_not_retried(fast_retries: None, company: CompanyCtx) -> None:
    from callscribe.delivery import service

    receiver = Receiver([Reply(status=404, body=b"no such hook")])
    try:
        automation_id = add_automation(company, kind="webhook", url=receiver.url)
        processed_call(company)
        (delivery,) = deliveries_of(automation_id)
        assert service.attempt_delivery(delivery.id) is None
        (attempt,) = attempts_of(delivery.id)
        assert attempt.http_status == 404 and "refused" in attempt.error
        assert deliveries_of(automation_id)[0].status == "failed"
    finally:
        receiver.close()


def test_automation_is_disabled_after_consecutive_failed_deliveries(
    app_env: dict[str, str], company: CompanyCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN an automation whose receiver always refuses, N=2
    WHEN two calls complete
    THEN it is turned off with the reason, and a third call creates no delivery."""
    from callscribe.db import session_scope
    from callscribe.delivery import service
    from callscribe.delivery.models import Automation
    from callscribe.settings import reset_settings

    monkeypatch.setenv("CALLSCRIBE_DELIVERY_DISABLE_AFTER", "2")
    monkeypatch.setenv("CALLSCRIBE_DELIVERY_MAX_ATTEMPTS", "1")
    reset_settings()
    receiver = Receiver()
    receiver.default = Reply(status=503, body=b"maintenance")
    try:
        automation_id = add_automation(company, kind="webhook", url=receiver.url)
        for _ in range(2):
            processed_call(company)
            delivery = deliveries_of(automation_id)[-1]
            assert service.attempt_delivery(delivery.id) is None
        with session_scope() as s:
            automation = s.get(Automation, automation_id)
            assert automation.enabled is False
            assert automation.consecutive_failures == 2
            assert "2 failed deliveries in a row" in automation.disabled_reason
            assert "HTTP 503" in automation.disabled_reason
        processed_call(company)
        assert len(deliveries_of(automation_id)) == 2
    finally:
        receiver.close()


def test_a_success_resets_the_failure_count(company: CompanyCtx, receiver: Receiver) -> None:
    from callscribe.db import session_scope
    from callscribe.delivery import service
    from callscribe.delivery.models import Automation

    receiver.replies = [Reply(status=400)]
    automation_id = add_automation(company, kind="webhook", url=receiver.url)
    for _ in range(2):
        processed_call(company)
        service.attempt_delivery(deliveries_of(automation_id)[-1].id)
    with session_scope() as s:
        assert s.get(Automation, automation_id).consecutive_failures == 0


def test_re_dispatched_completion_creates_no_second_delivery(
    company: CompanyCtx, receiver: Receiver
) -> None:
    """GIVEN a completed call whose call.completed event was dispatched WHEN the same
    event is handed to the consumers again (a sweep racing the after-commit dispatch)
    THEN the automation still has one delivery."""
    from sqlalchemy import select

    from callscribe.db import session_scope
    from callscribe.events import OutboxEvent, dispatch_event

    automation_id = add_automation(company, kind="webhook", url=receiver.url)
    call_id = processed_call(company)
    with session_scope() as s:
        (event,) = s.scalars(select(OutboxEvent).where(OutboxEvent.company_id == company.id))
    assert event.payload == {"call_id": str(call_id)} and event.dispatched_at is not None
    assert dispatch_event(event.id) is False  # already dispatched: nothing to do
    assert dispatch_event(event.id, again=True) is True
    assert len(deliveries_of(automation_id)) == 1


def test_private_receivers_are_refused_unless_allowed(
    company: CompanyCtx, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from callscribe.db import session_scope
    from callscribe.delivery import service
    from callscribe.errors import BadRequest
    from callscribe.settings import reset_settings

    automation_id = add_automation(company, kind="webhook", url=receiver.url)
    monkeypatch.setenv("CALLSCRIBE_ALLOW_PRIVATE_URLS", "false")
    reset_settings()
    with pytest.raises(BadRequest) as refused:
        add_automation(company, kind="webhook", url="http://127.0.0.1:9/hook")
    assert refused.value.code == "url_not_allowed"
    # an automation saved while allowed is checked again at every attempt
    processed_call(company)
    (delivery,) = deliveries_of(automation_id)
    assert service.attempt_delivery(delivery.id) is None
    (attempt,) = attempts_of(delivery.id)
    assert "private" in attempt.error and not receiver.requests
    with session_scope() as s:
        assert s.get(type(delivery), delivery.id).status == "failed"


def test_secrets_and_urls_are_encrypted_at_rest(company: CompanyCtx, receiver: Receiver) -> None:
    from sqlalchemy import text

    from callscribe.db import session_scope

    add_automation(company, kind="webhook", url=receiver.url + "?token=abcd9876", secret=SECRET)
    with session_scope() as s:
        raw = " ".join(str(v) for v in s.execute(text("SELECT * FROM automations")).one())
    assert "abcd9876" not in raw and SECRET not in raw and "127.0.0.1" in raw  # hint only
    assert "9876" in raw


@pytest.mark.slow
def test_retries_on_the_redis_queue_with_a_separate_worker_process(
    fast_retries: None, company: CompanyCtx, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """The scaled-out install: the call completes here, `callscribe worker` (another
    process, Huey on Redis) makes the attempts; 500 then 200 ends delivered."""
    import os
    import signal
    import subprocess
    import sys
    import uuid

    import redis

    from callscribe import queue
    from callscribe.settings import reset_settings

    url = os.environ.get("CALLSCRIBE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    redis.Redis.from_url(url).ping()
    monkeypatch.setenv("CALLSCRIBE_REDIS_URL", url)
    monkeypatch.setenv("CALLSCRIBE_QUEUE_NAME", f"test-{uuid.uuid4().hex[:8]}")
    reset_settings()
    queue._configured_for = None
    receiver = Receiver([Reply(status=500)])
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "-m", "callscribe.cli", "worker", "--workers", "1"],
        env={**os.environ},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        automation_id = add_automation(company, kind="webhook", url=receiver.url, secret=SECRET)
        processed_call(company)
        delivery = wait_delivery(automation_id, timeout=90)
        assert delivery.status == "succeeded", log.read_text()[-2000:]
        assert [a.http_status for a in attempts_of(delivery.id)] == [500, 200]
        for request in receiver.wait_for(2):
            verify_signatures(request)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
        receiver.close()
        queue._configured_for = None

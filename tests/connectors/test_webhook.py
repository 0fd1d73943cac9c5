"""POST /api/webhooks/cloudvoice/{connector_id}: the platform's Webhook node."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import CompanyCtx, LiveServer, wait_for_status
from tests.connectors.conftest import Tracks, add_connector, calls_of
from tests.connectors.fakes import FakeCloudVoice, Run, utc_ago


def _secret(cid: uuid.UUID) -> str:
    from callscribe.connectors import service
    from tests.connectors.conftest import connector_row

    return service.webhook_secret(connector_row(cid))


def test_webhook_refusals(
    api_server: LiveServer, company: CompanyCtx, cloudvoice: FakeCloudVoice
) -> None:
    cid = add_connector(company, "cloudvoice", cloudvoice)
    secret = _secret(cid)
    url = f"/api/webhooks/cloudvoice/{cid}"
    good = {"X-Callscribe-Secret": secret}
    with httpx.Client(base_url=api_server.url, timeout=30) as client:
        wrong = client.post(
            url, json={"run_id": "1"}, headers={"X-Callscribe-Secret": secret[:-2] + "xx"}
        )
        assert wrong.status_code == 401 and "does not match" in wrong.json()["error"]["message"]
        missing = client.post(url, json={"run_id": "1"})
        assert missing.status_code == 401 and "custom header" in missing.json()["error"]["message"]
        assert (
            client.post(
                f"/api/webhooks/cloudvoice/{uuid.uuid4()}", json={"run_id": "1"}, headers=good
            ).status_code
            == 404
        )
        assert (
            client.post(
                "/api/webhooks/cloudvoice/not-a-uuid", json={"run_id": "1"}, headers=good
            ).status_code
            == 404
        )
        for body in (
            b"{not json",
            b"",
            b"[1, 2]",
            b'{"runid": "1"}',
            b'{"run_id": "{{workflow_run_id}}"}',
            b'{"run_id": true}',
            b'{"run_id": null}',
        ):
            bad = client.post(
                url, content=body, headers={**good, "Content-Type": "application/json"}
            )
            assert bad.status_code == 400, body
            assert (
                "run_id" in bad.json()["error"]["message"]
                or "JSON" in bad.json()["error"]["message"]
            )
        accepted = client.post(
            url, json={"run_id": 5, "call_disposition": "completed"}, headers=good
        )
        assert accepted.status_code == 202 and accepted.json()["status"] == "accepted"
        again = client.post(url, json={"run_id": "5"}, headers=good)
        assert again.status_code == 202 and again.json()["status"] == "duplicate"
        assert again.json()["event_id"] == accepted.json()["event_id"]

        with api_server.client(headers=company.headers) as api:
            assert api.post(f"/api/connectors/{cid}/disable").status_code == 200
        disabled = client.post(url, json={"run_id": "6"}, headers=good)
        assert disabled.status_code == 404
        assert secret not in disabled.text + wrong.text + missing.text


def test_twenty_parallel_redeliveries_make_one_call_processed_end_to_end(
    live_server: LiveServer, company: CompanyCtx, cloudvoice: FakeCloudVoice, tracks: Tracks
) -> None:
    """GIVEN a finished CloudVoice run with user and bot tracks
    WHEN the platform delivers its webhook 20 times at once (retries with the same
    delivery id, duplicates with new ones, run ids as strings and numbers)
    THEN every delivery gets 202, exactly one is accepted, and exactly one call is
    imported and completed: the bot's turns and the customer's turns, with minutes."""
    cloudvoice.add_run(
        Run(id=81, created_at=utc_ago(2), tracks={"user": tracks.user, "bot": tracks.bot})
    )
    cid = add_connector(company, "cloudvoice", cloudvoice)
    secret = _secret(cid)
    delivery = str(uuid.uuid4())

    def deliver(i: int) -> httpx.Response:
        headers = {
            "X-Callscribe-Secret": secret,
            "X-Dograh-Delivery-Id": delivery if i % 2 else str(uuid.uuid4()),
            "X-Dograh-Workflow-Run-Id": "81",
            "X-Dograh-Delivery-Attempt": str(1 + i % 3),
        }
        body = {"run_id": "81" if i % 3 else 81, "call_disposition": "completed"}
        with httpx.Client(base_url=live_server.url, timeout=60) as c:
            return c.post(f"/api/webhooks/cloudvoice/{cid}", json=body, headers=headers)

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(deliver, range(20)))
    assert [a.status_code for a in answers] == [202] * 20
    assert sorted(a.json()["status"] for a in answers).count("accepted") == 1

    with live_server.client(headers=company.headers) as client:
        deadline = time.time() + 60
        while not (listed := client.get("/api/calls").json()["calls"]):
            assert time.time() < deadline, "the delivered run was not imported"
            time.sleep(0.2)
        call = wait_for_status(client, listed[0]["id"])
    assert call["status"] == "completed", call["error"]
    assert call["external_id"] == "81" and call["source"] == "cloudvoice"
    roles = {t["role"] for t in call["turns"]}
    assert roles == {"bot", "customer"}
    bot = " ".join(t["text"] for t in call["turns"] if t["role"] == "bot").lower()
    assert "wizard" in bot
    assert call["agent"]["name"] == "Sales assistant"
    assert call["minutes"]["summary"]
    assert len(calls_of(company)) == 1

    from sqlalchemy import func, select

    from callscribe.connectors.models import InboundEvent, SyncRun
    from callscribe.db import session_scope

    with session_scope() as s:
        runs = s.scalar(
            select(func.count())
            .select_from(InboundEvent)
            .where(InboundEvent.external_id == "run:81")
        )
        webhook_runs = list(s.scalars(select(SyncRun).where(SyncRun.trigger == "webhook")))
        all_runs = list(s.scalars(select(SyncRun)))
    assert runs == 1
    assert [r.status for r in webhook_runs] == ["succeeded"]
    # the minute's polling sync may import the run first; either way it is imported once
    assert sum(r.imported for r in all_runs) == 1


def test_webhook_accepted_while_the_queue_is_down_is_imported_by_the_sweep(
    api_server: LiveServer, company: CompanyCtx, cloudvoice: FakeCloudVoice, tracks: Tracks
) -> None:
    """GIVEN the queue unreachable (Redis restarting) WHEN a run's webhook arrives THEN it
    is answered 202 (the event is stored; before: a 500, and the provider's re-delivery
    found the event and enqueued nothing, so the call never came) and a re-delivery is
    a duplicate; once the queue is back the sweep enqueues the import, and a second job
    for the same event (the sweep's again, a lost one found) imports nothing twice."""
    from datetime import timedelta

    from huey.storage import RedisStorage
    from sqlalchemy import update

    from callscribe import queue
    from callscribe.connectors.models import InboundEvent
    from callscribe.connectors.tasks import sweep_stalled_events
    from callscribe.connectors.webhooks import import_event
    from callscribe.db import session_scope, utcnow
    from callscribe.worker import SWEEPS
    from tests.conftest import free_port

    cloudvoice.add_run(
        Run(id=91, created_at=utc_ago(2), tracks={"user": tracks.user, "bot": tracks.bot})
    )
    cid = add_connector(company, "cloudvoice", cloudvoice)
    headers = {"X-Callscribe-Secret": _secret(cid)}
    huey = queue.configure_queue()
    working = huey.storage
    huey.storage = RedisStorage("down", url=f"redis://127.0.0.1:{free_port()}/0")
    try:
        with httpx.Client(base_url=api_server.url, timeout=30) as client:
            first = client.post(
                f"/api/webhooks/cloudvoice/{cid}", json={"run_id": 91}, headers=headers
            )
            again = client.post(
                f"/api/webhooks/cloudvoice/{cid}", json={"run_id": 91}, headers=headers
            )
    finally:
        huey.storage = working
    assert first.status_code == 202 and first.json()["status"] == "accepted", first.text
    assert again.status_code == 202 and again.json()["status"] == "duplicate"
    assert huey.pending_count() == 0
    event_id = uuid.UUID(first.json()["event_id"])

    assert "stalled inbound events" in {sweep.name for sweep in SWEEPS}
    assert sweep_stalled_events() == 0  # young: its own enqueue may still be on the way
    with session_scope() as s:
        s.execute(
            update(InboundEvent)
            .where(InboundEvent.id == event_id)
            .values(created_at=utcnow() - timedelta(minutes=10))
        )
    assert sweep_stalled_events() == 1
    assert sweep_stalled_events() == 0  # queued now: not enqueued a second time
    (task,) = huey.pending()
    assert task.name == "connectors.import_run" and task.args == (str(event_id),)
    huey.flush()
    assert import_event(event_id) == "imported"
    assert import_event(event_id) == "imported"  # a second job: nothing again
    assert len(calls_of(company)) == 1


def test_an_import_whose_worker_died_is_taken_over_once_its_claim_is_stale(
    api_server: LiveServer, company: CompanyCtx, cloudvoice: FakeCloudVoice, tracks: Tracks
) -> None:
    """GIVEN an event claimed by an import (status importing) WHEN its worker is alive
    (a fresh claim) THEN neither the sweep nor a second job touches it; once the claim
    is older than STALE_AFTER_S (the worker was killed) the sweep re-enqueues it and
    the next job imports the call, once."""
    from datetime import timedelta

    from sqlalchemy import update

    from callscribe import queue
    from callscribe.connectors.models import InboundEvent
    from callscribe.connectors.tasks import sweep_stalled_events
    from callscribe.connectors.webhooks import import_event
    from callscribe.db import session_scope, utcnow

    cloudvoice.add_run(
        Run(id=92, created_at=utc_ago(2), tracks={"user": tracks.user, "bot": tracks.bot})
    )
    cid = add_connector(company, "cloudvoice", cloudvoice)
    with httpx.Client(base_url=api_server.url, timeout=30) as client:
        answer = client.post(
            f"/api/webhooks/cloudvoice/{cid}",
            json={"run_id": 92},
            headers={"X-Callscribe-Secret": _secret(cid)},
        )
    event_id = uuid.UUID(answer.json()["event_id"])
    huey = queue.configure_queue()
    huey.flush()  # its job went with the worker that took it

    def claimed(ago_s: float) -> None:
        with session_scope() as s:
            s.execute(
                update(InboundEvent)
                .where(InboundEvent.id == event_id)
                .values(
                    status="importing",
                    processed_at=utcnow() - timedelta(seconds=ago_s),
                    created_at=utcnow() - timedelta(minutes=10),
                )
            )

    claimed(1)
    assert sweep_stalled_events() == 0
    assert import_event(event_id) == "importing"  # another job: the live import has it
    assert calls_of(company) == []
    claimed(600)
    assert sweep_stalled_events() == 1
    assert import_event(event_id) == "imported"
    assert len(calls_of(company)) == 1

"""/api/connectors: add, test, sync, disable, log; credentials never come back."""

from __future__ import annotations

import logging

import httpx
import pytest

from tests.conftest import CompanyCtx, LiveServer, free_port
from tests.connectors.conftest import Tracks
from tests.connectors.fakes import (
    DialerRecording,
    FakeCallCenter,
    FakeCloudVoice,
    Run,
    minutes_ago,
    utc_ago,
)


class Recorder:
    """Every response body the test saw, to check that no credential is in any."""

    def __init__(self, client: httpx.Client):
        self.client = client
        self.bodies: list[str] = []

    def __call__(self, method: str, url: str, **kw) -> httpx.Response:  # type: ignore[no-untyped-def]
        response = self.client.request(method, url, **kw)
        self.bodies.append(response.text)
        return response


def test_add_test_sync_disable_cloudvoice_over_the_api(
    api_server: LiveServer,
    company: CompanyCtx,
    cloudvoice: FakeCloudVoice,
    tracks: Tracks,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    cloudvoice.add_run(Run(id=71, created_at=utc_ago(30), tracks={"recording": tracks.mixed}))
    with api_server.client(headers=company.headers) as client:
        call = Recorder(client)
        types = {t["type"]: t for t in call("GET", "/api/connectors/types").json()}
        assert types["cloudvoice"]["default_base_url"] == "https://app.dograh.com/api/v1"
        assert types["cloudvoice"]["supports_webhook"] is True

        created = call(
            "POST",
            "/api/connectors",
            json={
                "type": "cloudvoice",
                "name": "Voice bots",
                "base_url": cloudvoice.base_url,
                "credentials": {"api_key": cloudvoice.api_key},
            },
        )
        assert created.status_code == 201, created.text
        connector = created.json()
        cid = connector["id"]
        assert connector["credentials_hint"] == f"…{cloudvoice.api_key[-4:]}"
        assert connector["webhook"]["header"] == "X-Callscribe-Secret"
        assert connector["webhook"]["url"].endswith(f"/api/webhooks/cloudvoice/{cid}")
        assert connector["webhook"]["payload_template"] == '{"run_id": "{{workflow_run_id}}"}'
        assert "custom header" in connector["webhook"]["instructions"]

        test = call("POST", f"/api/connectors/{cid}/test").json()
        assert test["ok"] is True and "API key works" in test["message"]

        synced = call("POST", f"/api/connectors/{cid}/sync")
        assert synced.status_code == 200
        assert (synced.json()["status"], synced.json()["imported"]) == ("succeeded", 1)
        queued = call("POST", f"/api/connectors/{cid}/sync?wait=false")
        assert queued.status_code == 202 and queued.json()["status"] == "queued"
        again = call("POST", f"/api/connectors/{cid}/sync").json()
        assert (again["imported"], again["duplicates"]) == (0, 1)
        calls = call("GET", "/api/calls").json()
        assert calls["total"] == 1 and calls["calls"][0]["source"] == "cloudvoice"

        shown = call("GET", f"/api/connectors/{cid}").json()
        assert shown["last_sync_status"] == "succeeded" and shown["last_sync_imported"] == 0
        assert shown["last_sync_at"]
        runs = call("GET", f"/api/connectors/{cid}/runs").json()["runs"]
        assert [r["imported"] for r in runs] == [0, 1]

        assert call("POST", f"/api/connectors/{cid}/disable").json()["enabled"] is False
        refused = call("POST", f"/api/connectors/{cid}/sync")
        assert refused.status_code == 409 and "disabled" in refused.json()["error"]["message"]
        assert call("POST", f"/api/connectors/{cid}/enable").json()["enabled"] is True

        secret = call("GET", f"/api/connectors/{cid}/webhook-secret").json()["secret"]
        rotated = call("POST", f"/api/connectors/{cid}/webhook-secret/rotate").json()["secret"]
        assert rotated != secret
        old = client.post(
            f"/api/webhooks/cloudvoice/{cid}",
            json={"run_id": "71"},
            headers={"X-Callscribe-Secret": secret},
        )
        assert old.status_code == 401
        listed = call("GET", "/api/connectors").json()["connectors"]
        assert [c["id"] for c in listed] == [cid]

    everything = "\n".join(call.bodies) + caplog.text
    assert cloudvoice.api_key not in everything


def test_test_connection_answers_in_words_a_user_can_act_on(
    api_server: LiveServer,
    company: CompanyCtx,
    call_center: FakeCallCenter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with api_server.client(headers=company.headers) as client:
        call = Recorder(client)
        creds = {"username": call_center.username, "password": call_center.password}
        ok = call(
            "POST",
            "/api/connectors/test",
            json={
                "type": "cloudvoice_call_center",
                "base_url": call_center.base_url,
                "credentials": creds,
            },
        ).json()
        assert ok["ok"] is True and "username and password work" in ok["message"]

        cid = call(
            "POST",
            "/api/connectors",
            json={
                "type": "cloudvoice_call_center",
                "base_url": call_center.base_url,
                "credentials": creds,
            },
        ).json()["id"]
        patched = call(
            "PATCH", f"/api/connectors/{cid}", json={"credentials": {"password": "Nope-Pass-42"}}
        )
        assert patched.status_code == 200
        bad = call("POST", f"/api/connectors/{cid}/test").json()
        assert bad["ok"] is False and bad["code"] == "provider_auth_failed"
        assert "rejected the username or password" in bad["message"]

        call(
            "PATCH",
            f"/api/connectors/{cid}",
            json={
                "base_url": f"http://127.0.0.1:{free_port()}",
                "credentials": {"password": call_center.password},
            },
        )
        down = call("POST", f"/api/connectors/{cid}/test").json()
        assert down["ok"] is False and down["code"] == "provider_unreachable"
        assert "Check the Base URL" in down["message"]

        unknown = call("POST", "/api/connectors", json={"type": "nope", "credentials": {}})
        assert unknown.status_code == 400 and "cloudvoice" in unknown.json()["error"]["message"]
        missing = call(
            "POST",
            "/api/connectors",
            json={
                "type": "cloudvoice_call_center",
                "base_url": call_center.base_url,
                "credentials": {"username": "x"},
            },
        )
        assert missing.status_code == 422 and "Password" in missing.json()["error"]["message"]
        assert call("DELETE", f"/api/connectors/{cid}").status_code == 200
        assert call("GET", f"/api/connectors/{cid}").status_code == 404

    everything = "\n".join(call.bodies) + caplog.text
    assert call_center.password not in everything
    assert "Nope-Pass-42" not in everything  # the dialer echoes the password it was sent


def test_connectors_are_scoped_to_their_company(
    api_server: LiveServer, company: CompanyCtx, cloudvoice: FakeCloudVoice
) -> None:
    from tests.conftest import make_company
    from tests.connectors.conftest import add_connector

    cid = add_connector(company, "cloudvoice", cloudvoice)
    other = make_company("Other Co")
    with api_server.client(headers=other.headers) as client:
        assert client.get(f"/api/connectors/{cid}").status_code == 404
        assert client.post(f"/api/connectors/{cid}/sync").status_code == 404
        assert client.get("/api/connectors").json()["connectors"] == []


def test_polling_task_syncs_due_connectors_through_the_queue(
    live_server: LiveServer, company: CompanyCtx, call_center: FakeCallCenter, tracks: Tracks
) -> None:
    """GIVEN a connector that never synced WHEN the periodic poll runs THEN a queued
    connectors.sync imports the dialer's recordings, and the connector is not due again
    until its interval has passed."""
    import time

    from callscribe.connectors import tasks
    from callscribe.db import session_scope
    from tests.connectors.conftest import add_connector, calls_of, connector_row

    call_center.add(DialerRecording("9301", "6666", minutes_ago(20), tracks.bot))
    cid = add_connector(company, "cloudvoice_call_center", call_center, poll_interval_s=600)
    assert tasks.enqueue_due_syncs() == [cid]
    deadline = time.time() + 60
    while connector_row(cid).last_sync_status is None:
        assert time.time() < deadline, "the queued sync did not run"
        time.sleep(0.2)
    assert connector_row(cid).last_sync_status == "succeeded"
    assert [c.external_id for c in calls_of(company)] == ["9301"]
    with session_scope() as s:
        from callscribe.connectors import sync

        assert sync.due_connectors(s) == []

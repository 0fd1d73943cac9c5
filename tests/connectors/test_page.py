"""The Integrations page over HTTP, as a signed-in manager uses it."""

from __future__ import annotations

import re

from tests.conftest import CompanyCtx, LiveServer
from tests.connectors.conftest import Tracks, calls_of
from tests.connectors.fakes import FakeCloudVoice, Run, utc_ago
from tests.web.conftest import create_user, sign_in


def test_manager_adds_tests_syncs_and_disables_a_cloudvoice_connector(
    api_server: LiveServer, company: CompanyCtx, cloudvoice: FakeCloudVoice, tracks: Tracks
) -> None:
    cloudvoice.add_run(Run(id=91, created_at=utc_ago(15), tracks={"recording": tracks.mixed}))
    create_user(company.id, "mia@acme.test", "manager")
    web = sign_in(api_server.url, "mia@acme.test")

    page = web.client.get("/integrations")
    assert page.status_code == 200
    assert 'value="https://app.dograh.com/api/v1"' in page.text  # prefilled base URL
    assert "CloudVoice Call Center" in page.text

    web.csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    added = web.post_form(
        "/integrations",
        {
            "type": "cloudvoice",
            "name": "Voice bots",
            "base_url": cloudvoice.base_url,
            "cred_api_key": cloudvoice.api_key,
            "poll_interval_min": "10",
        },
    )
    assert added.status_code == 303
    page = web.client.get("/integrations")
    assert "Voice bots" in page.text and "every 10 minute(s)" in page.text
    assert cloudvoice.api_key not in page.text
    cid = re.search(r'id="connector-([0-9a-f-]{36})"', page.text).group(1)
    assert f"/api/webhooks/cloudvoice/{cid}" in page.text
    assert "X-Callscribe-Secret" in page.text and "custom header" in page.text
    assert "{{workflow_run_id}}" in page.text
    assert 'data-testid="webhook-secret"' in page.text and "Rotate secret" in page.text

    htmx = {"HX-Request": "true", "X-CSRF-Token": web.csrf}
    tested = web.client.post(f"/integrations/{cid}/test", headers=htmx)
    assert tested.status_code == 200 and "the API key works" in tested.text
    synced = web.client.post(f"/integrations/{cid}/sync", headers=htmx)
    assert "Sync done: 1 new call(s) imported." in synced.text
    assert 'data-testid="sync-log"' in synced.text
    assert [c.external_id for c in calls_of(company)] == ["91"]
    again = web.client.post(f"/integrations/{cid}/sync", headers=htmx)
    assert "0 new call(s) imported (1 already here)" in again.text

    disabled = web.post_form(f"/integrations/{cid}/disable")
    assert disabled.status_code == 303
    page = web.client.get("/integrations")
    assert ">Disabled<" in page.text and "is disabled" in page.text
    cloudvoice.down = True
    web.post_form(f"/integrations/{cid}/enable")
    failed = web.client.post(f"/integrations/{cid}/sync", headers=htmx)
    assert "Sync failed: CloudVoice answered HTTP 503" in failed.text
    assert cloudvoice.api_key not in failed.text


def test_a_bad_form_keeps_what_was_typed_and_says_why(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    create_user(company.id, "mia@acme.test", "manager")
    web = sign_in(api_server.url, "mia@acme.test")
    web.refresh_csrf("/integrations")
    answer = web.post_form(
        "/integrations",
        {
            "type": "cloudvoice_call_center",
            "name": "Dialer",
            "base_url": "ftp://dialer",
            "cred_username": "u",
            "cred_password": "p",
        },
    )
    assert answer.status_code == 400
    assert "The connector was not added" in answer.text and "http" in answer.text
    assert 'value="Dialer"' in answer.text


def test_agents_cannot_open_integrations(api_server: LiveServer, company: CompanyCtx) -> None:
    create_user(company.id, "al@acme.test", "agent")
    web = sign_in(api_server.url, "al@acme.test")
    assert web.client.get("/integrations").status_code == 403

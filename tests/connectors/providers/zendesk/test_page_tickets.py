"""The Integrations page with the two ticket types, as a signed-in manager uses it:
Zendesk added without its webhook signing secret (optional: Zendesk shows it once the
webhook exists), tested, synced, then the secret added by editing; Freshdesk's webhook
box with our secret header and its body."""

from __future__ import annotations

import re
import uuid

from tests.conftest import CompanyCtx, LiveServer
from tests.connectors.conftest import Tracks, calls_of
from tests.connectors.providers.freshdesk.kit import FreshdeskKit
from tests.connectors.providers.zendesk.kit import ZendeskKit
from tests.web.conftest import create_user, sign_in


def test_manager_adds_zendesk_then_its_signing_secret_and_sees_freshdesks_webhook_box(
    api_server: LiveServer, company: CompanyCtx, tracks: Tracks
) -> None:
    from callscribe.connectors import service
    from tests.connectors.conftest import connector_row

    zendesk, freshdesk = ZendeskKit(tracks), FreshdeskKit(tracks)
    try:
        zendesk.add_call(1, minutes_ago=30)
        create_user(company.id, "mia@acme.test", "manager")
        web = sign_in(api_server.url, "mia@acme.test")
        page = web.client.get("/integrations")
        assert page.status_code == 200
        assert 'value="https://yoursubdomain.zendesk.com"' in page.text
        assert 'value="https://yourdomain.freshdesk.com"' in page.text
        secret_input = re.search(r'<input name="cred_webhook_secret"[^>]*>', page.text)
        assert secret_input and "required" not in secret_input.group(0)
        token_input = re.search(r'<input name="cred_api_token"[^>]*>', page.text)
        assert token_input and "required" in token_input.group(0)

        web.csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        added = web.post_form(
            "/integrations",
            {
                "type": "zendesk",
                "name": "Support desk",
                "base_url": zendesk.server.base_url,
                "cred_email": zendesk.server.email,
                "cred_api_token": zendesk.server.api_token,
                "cred_webhook_secret": "",
                "poll_interval_min": "15",
            },
        )
        assert added.status_code == 303, added.text
        page = web.client.get("/integrations")
        cid = re.search(r'id="connector-([0-9a-f-]{36})"', page.text).group(1)
        assert zendesk.server.api_token not in page.text
        assert f"/api/webhooks/zendesk/{cid}" in page.text
        assert "{{ticket.updated_at_with_timestamp}}" in page.text and "signing secret" in page.text
        htmx = {"HX-Request": "true", "X-CSRF-Token": web.csrf}
        tested = web.client.post(f"/integrations/{cid}/test", headers=htmx)
        assert "Connected to Zendesk as Ada Admin" in tested.text, tested.text
        synced = web.client.post(f"/integrations/{cid}/sync", headers=htmx)
        assert "Sync done: 1 new call(s) imported." in synced.text
        assert [c.channel for c in calls_of(company, "zendesk")] == ["ticket"]

        edited = web.post_form(
            f"/integrations/{cid}/edit", {"cred_webhook_secret": zendesk.server.signing_secret}
        )
        assert edited.status_code == 303, edited.text
        creds = service.credentials_of(connector_row(uuid.UUID(cid)))
        assert creds["webhook_secret"] == zendesk.server.signing_secret
        assert creds["api_token"] == zendesk.server.api_token  # kept

        added = web.post_form(
            "/integrations",
            {
                "type": "freshdesk",
                "name": "Helpdesk",
                "base_url": freshdesk.server.base_url,
                "cred_api_key": freshdesk.server.api_key,
                "poll_interval_min": "15",
            },
        )
        assert added.status_code == 303, added.text
        page = web.client.get("/integrations")
        assert page.text.count('data-testid="webhook-secret"') == 1  # Freshdesk's only
        assert "X-Callscribe-Secret" in page.text and "Trigger webhook" in page.text
        assert "{{triggered_event}}" in page.text
        assert freshdesk.server.api_key not in page.text
    finally:
        zendesk.server.stop()
        freshdesk.server.stop()

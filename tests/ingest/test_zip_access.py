"""Access to the ZIP ingest API: sources and keys over the API (a company API key) and
in Settings -> Ingest API (a signed-in admin), the secret shown once and stored hashed,
a revoked key refused."""

from __future__ import annotations

import re

from sqlalchemy import select

from tests.conftest import CompanyCtx, LiveServer
from tests.web.conftest import create_user, csrf_from, sign_in


def test_sources_and_keys_over_the_api_and_the_secret_is_stored_hashed(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    from callscribe.db import session_scope
    from callscribe.ingest.zipbatch.models import IngestKey

    with api_server.client() as c:
        r = c.post("/api/v1/ingest/sources", json={"name": "PBX"}, headers=company.headers)
        assert r.status_code == 201 and set(r.json()) == {"ingestionSourceId", "name"}
        source_id = r.json()["ingestionSourceId"]
        r = c.post("/api/v1/ingest/keys", headers=company.headers)
        assert r.status_code == 201 and set(r.json()) == {"secret"}
        secret = r.json()["secret"]
        assert (
            c.post("/api/v1/ingest/sources", json={"name": ""}, headers=company.headers).status_code
            == 422
        )
        assert c.post("/api/v1/ingest/keys").status_code == 401  # no credentials
        ok = c.post(
            "/api/v1/ingest/upload-url",
            json={"ingestionSourceId": source_id},
            headers={"Authorization": f"Bearer {secret}"},
        )
        assert ok.status_code == 200 and set(ok.json()) == {"uploadUrl", "batchId", "expiresAt"}
    with session_scope() as s:
        (row,) = s.scalars(select(IngestKey)).all()
        assert secret not in (row.key_hash, row.prefix) and row.key_hash != secret


def test_settings_ingest_tab_shows_account_id_creates_and_revokes(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    create_user(company.id, "admin@acme.test", "admin")
    web = sign_in(api_server.url, "admin@acme.test")
    page = web.client.get("/settings/ingest")
    assert page.status_code == 200 and str(company.id) in page.text
    assert 'href="/settings/ingest"' in web.client.get("/settings/api-keys").text
    r = web.client.post(
        "/settings/ingest/sources", data={"csrf_token": csrf_from(page.text), "name": "Legacy CRM"}
    )
    assert r.status_code == 303
    page = web.client.get("/settings/ingest")
    assert "Legacy CRM" in page.text
    source_id = re.search(r'class="mono">([0-9a-f-]{36})<', page.text).group(1)  # type: ignore[union-attr]
    created = web.client.post(
        "/settings/ingest/keys", data={"csrf_token": csrf_from(page.text), "name": "Nightly"}
    )
    secret = re.search(r'value="(csi_[^"]+)"', created.text).group(1)  # type: ignore[union-attr]
    again = web.client.get("/settings/ingest")
    assert secret not in again.text  # shown once
    key_id = re.search(r"/settings/ingest/keys/([0-9a-f-]{36})/revoke", again.text).group(1)  # type: ignore[union-attr]
    with api_server.client() as c:
        body = {"ingestionSourceId": source_id}
        auth = {"Authorization": f"Bearer {secret}"}
        assert c.post("/api/v1/ingest/upload-url", json=body, headers=auth).status_code == 200
        web.client.post(
            f"/settings/ingest/keys/{key_id}/revoke", data={"csrf_token": csrf_from(again.text)}
        )
        refused = c.post("/api/v1/ingest/upload-url", json=body, headers=auth)
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "ingest_key_invalid"

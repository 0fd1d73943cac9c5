"""OAuth apps and client-credentials tokens, through the real API."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from tests.conftest import CompanyCtx, LiveServer


def _new_app(client: httpx.Client, company: CompanyCtx, name: str = "Dialer") -> dict:
    r = client.post("/api/oauth/apps", json={"name": name}, headers=company.headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["clientId"].startswith("csapp_") and body["clientSecret"].startswith("cssec_")
    return body


def _token(client: httpx.Client, app: dict) -> httpx.Response:
    return client.post(
        "/api/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app["clientId"],
            "client_secret": app["clientSecret"],
        },
    )


def test_client_credentials_token_works_on_the_api(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    with api_server.client() as client:
        app = _new_app(client, company)
        r = _token(client, app)
        assert r.status_code == 200, r.text
        token = r.json()
        assert token["token_type"] == "Bearer"
        assert token["expires_in"] == 16 * 3600
        bearer = {"Authorization": f"Bearer {token['access_token']}"}
        assert client.get("/api/calls", headers=bearer).status_code == 200
        # the secret is never listed again
        listed = client.get("/api/oauth/apps", headers=company.headers).json()
        assert [a["clientId"] for a in listed] == [app["clientId"]]
        assert "clientSecret" not in listed[0]
        # HTTP Basic works too
        r = client.post(
            "/api/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(app["clientId"], app["clientSecret"]),
        )
        assert r.status_code == 200
        # an app's token cannot mint more apps
        r = client.post("/api/oauth/apps", json={"name": "x"}, headers=bearer)
        assert r.status_code == 403


def test_wrong_secret_and_grant_are_refused(api_server: LiveServer, company: CompanyCtx) -> None:
    with api_server.client() as client:
        app = _new_app(client, company)
        r = _token(client, {**app, "clientSecret": app["clientSecret"] + "x"})
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "invalid_client"
        r = client.post("/api/oauth/token", data={"grant_type": "password"})
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "unsupported_grant_type"
        r = client.get("/api/calls", headers={"Authorization": "Bearer csat_not-a-token"})
        assert r.status_code == 401


def test_token_expires_after_16_hours(api_server: LiveServer, company: CompanyCtx) -> None:
    """GIVEN a token issued 16 hours and a minute ago (the clock moved on)
    THEN the API refuses it, and one issued now is accepted."""
    from callscribe.auth import oauth as service
    from callscribe.db import session_scope, utcnow

    with api_server.client() as client:
        app = _new_app(client, company)
        with session_scope() as s:
            _old, old_token = service.issue_oauth_token(
                s,
                app["clientId"],
                app["clientSecret"],
                now=utcnow() - timedelta(hours=16, minutes=1),
            )
            _new, new_token = service.issue_oauth_token(s, app["clientId"], app["clientSecret"])
        r = client.get("/api/calls", headers={"Authorization": f"Bearer {old_token}"})
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "token_expired"
        r = client.get("/api/calls", headers={"Authorization": f"Bearer {new_token}"})
        assert r.status_code == 200
    with session_scope() as s:
        later = utcnow() + timedelta(hours=16, seconds=1)
        with pytest.raises(Exception) as info:
            service.authenticate_oauth_token(s, new_token, now=later)
        assert getattr(info.value, "code", None) == "token_expired"


def test_revoked_app_tokens_are_refused(api_server: LiveServer, company: CompanyCtx) -> None:
    with api_server.client() as client:
        app = _new_app(client, company)
        other = _new_app(client, company, "Other")
        token = _token(client, app).json()["access_token"]
        other_token = _token(client, other).json()["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/calls", headers=bearer).status_code == 200
        r = client.delete(f"/api/oauth/apps/{app['id']}", headers=company.headers)
        assert r.status_code == 200 and r.json()["revoked_at"]
        r = client.get("/api/calls", headers=bearer)
        assert r.status_code == 401
        assert _token(client, app).status_code == 401
        # other apps are untouched
        r = client.get("/api/calls", headers={"Authorization": f"Bearer {other_token}"})
        assert r.status_code == 200

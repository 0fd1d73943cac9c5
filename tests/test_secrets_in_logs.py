"""Issue 17 #20: what a 500 logs and what admins see again of a secret. A failing
statement's exception (the text of a logged traceback) carries no parameter values, and
a short secret shows no characters in any hint."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.exc import IntegrityError

from callscribe.accounts.models import Company, User
from callscribe.db import session_scope
from callscribe.security.crypto import secret_last4
from tests.conftest import CompanyCtx, LiveServer


def test_a_failing_statement_logs_no_parameter_values(
    app_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """GIVEN a user with a personal email address
    WHEN a second insert with the same address violates the unique constraint
    THEN the exception and the traceback logged from it name no parameter value, and on
    PostgreSQL no DETAIL line quoting the duplicated key either."""
    email = "jane.private.person@example.org"
    with session_scope() as s:
        company = Company(name="Acme")
        s.add(company)
        s.flush()
        s.add(User(company_id=company.id, email=email, name="Jane Roe", role="agent"))
    with pytest.raises(IntegrityError) as raised, session_scope() as s:
        company_id = s.query(Company.id).scalar()
        s.add(User(company_id=company_id, email=email, name="Jane Roe", role="agent"))
        s.flush()
    with caplog.at_level(logging.ERROR):
        logging.getLogger("callscribe.test").error("boom", exc_info=raised.value)
    assert "Jane Roe" not in str(raised.value) and "Jane Roe" not in caplog.text
    assert email not in str(raised.value) and email not in caplog.text
    assert email not in str(raised.value.orig)
    assert "parameters hidden" in str(raised.value)
    assert "users" in str(raised.value) or "UNIQUE" in str(raised.value)  # still says what


@pytest.mark.parametrize(
    ("secret", "hint"),
    [("abcd", None), ("s3cr3t-11ch", None), ("twelve-chars", "hars"), ("x" * 40 + "9f3c", "9f3c")],
)
def test_only_long_secrets_show_their_last_four(secret: str, hint: str | None) -> None:
    assert secret_last4(secret) == hint


def test_a_short_webhook_secret_and_ai_key_show_no_characters(
    live_server: LiveServer, company: CompanyCtx
) -> None:
    with live_server.client(headers=company.headers) as api:
        created = api.post(
            "/api/automations",
            json={
                "kind": "webhook",
                "name": "CRM",
                "url": "http://127.0.0.1:9/hook",
                "secret": "wxyz",
            },
        )
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["secret_set"] is True and body["secret_last4"] is None
        assert "wxyz" not in created.text.replace(body["standard_webhooks_secret"], "")
        listed = api.get(f"/api/automations/{body['id']}")
        assert "wxyz" not in listed.text
        saved = api.put("/api/settings/ai", json={"ai_api_key": "k-42"})
        assert saved.status_code == 200, saved.text
        assert saved.json()["ai_api_key_set"] is True
        assert saved.json()["ai_api_key_last4"] is None and "k-42" not in saved.text

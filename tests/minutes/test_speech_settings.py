"""Speech settings that cannot work offline are refused when saved, and a model that is
missing anyway fails the call with a message that names it (not an internal error)."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from callscribe.accounts.models import CompanySettings
from callscribe.db import session_scope
from tests.calls.test_pipeline import upload
from tests.conftest import AUDIO, wait_for_status


def test_unknown_speech_model_refused_at_save_naming_the_available_ones(
    api_server, company
) -> None:  # type: ignore[no-untyped-def]
    with api_server.client(headers=company.headers) as client:
        resp = client.put("/api/settings/ai", json={"speech_model": "small.en"})
        assert resp.status_code == 422, resp.text
        error = resp.json()["error"]
        assert error["code"] == "speech_model_unavailable"
        assert "small.en" in error["message"] and "tiny.en" in error["message"]
        assert client.get("/api/settings/ai").json()["speech_model"] in (None, "tiny.en")
        ok = client.put("/api/settings/ai", json={"speech_model": "tiny.en"})
        assert ok.status_code == 200, ok.text


def test_german_with_the_english_only_model_is_refused(api_server, company) -> None:  # type: ignore[no-untyped-def]
    with api_server.client(headers=company.headers) as client:
        resp = client.put("/api/settings/ai", json={"speech_language": "de"})
        assert resp.status_code == 422, resp.text
        error = resp.json()["error"]
        assert error["code"] == "speech_language_unsupported"
        assert "English-only" in error["message"]
        assert client.put("/api/settings/ai", json={"speech_language": "en"}).status_code == 200


@pytest.mark.slow
def test_missing_model_fails_the_call_with_a_specific_error(live_server, company) -> None:  # type: ignore[no-untyped-def]
    with session_scope() as session:  # set before validation existed, or by hand
        session.execute(
            update(CompanySettings)
            .where(CompanySettings.company_id == company.id)
            .values(speech_model="small.en")
        )
    call_id = upload(live_server, company, AUDIO / "jfk.flac")
    with live_server.client(headers=company.headers) as client:
        call = wait_for_status(client, call_id)
    assert call["status"] == "failed"
    assert "small.en" in call["error"] and "tiny.en" in call["error"]
    assert "Internal error" not in call["error"]

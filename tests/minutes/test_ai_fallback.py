"""An unreachable AI endpoint (issue 18): with the company's fallback on, the call gets
Minutes from the built-in analyzer and a note saying so; off, the call fails with an
error that names the AI settings page. Real endpoints on 127.0.0.1: one answering 500,
one with nothing listening."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from tests.conftest import CompanyCtx, LiveServer, free_port, insert_text_engagement
from tests.httpservers import send_bytes, serve

TURNS = [
    ("agent", "Thank you for calling Northwind, this is Dana. How can I help you today?"),
    ("customer", "Hi, I was charged twice for my March invoice and I need a refund."),
    ("agent", "I will start the refund now and send you a confirmation email today."),
    ("customer", "Great, thank you so much."),
]


def answer_500(handler: BaseHTTPRequestHandler) -> None:
    handler.rfile.read(int(handler.headers.get("content-length") or 0))
    send_bytes(handler, b"<h1>internal gateway page</h1>", "text/html", status=500)


@pytest.fixture
def failing_endpoint(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "down":
        yield f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
        return
    with serve({"/v1/chat/completions": answer_500}) as base:
        yield f"{base}/v1"


@pytest.fixture
def quick_ai(app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from callscribe.settings import reset_settings

    monkeypatch.setenv("CALLSCRIBE_AI_MAX_RETRIES", "0")
    monkeypatch.setenv("CALLSCRIBE_AI_TIMEOUT_S", "3")
    reset_settings()


def configure_ai(api: object, base_url: str, fallback: bool) -> None:
    saved = api.put(  # type: ignore[attr-defined]
        "/api/settings/ai",
        json={
            "ai_engine": "openai",
            "ai_provider": "custom",
            "ai_base_url": base_url,
            "ai_model": "m",
            "ai_api_key": "sk-test-key-123456",
            "ai_fallback_local": fallback,
        },
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["ai_fallback_local"] is fallback


@pytest.mark.parametrize("failing_endpoint", ["down", "500"], indirect=True)
def test_with_the_fallback_on_an_unreachable_endpoint_gives_local_minutes_with_a_note(
    quick_ai: None, api_server: LiveServer, company: CompanyCtx, failing_endpoint: str
) -> None:
    from callscribe.pipeline.runner import process_call

    with api_server.client(headers=company.headers) as api:
        configure_ai(api, failing_endpoint, fallback=True)
        call_id = insert_text_engagement(company.id, TURNS)
        assert process_call(call_id) == "completed"
        call = api.get(f"/api/calls/{call_id}").json()
    note = call["minutes"]["notes"][0]
    endpoint = failing_endpoint.rsplit("/v1", 1)[0]
    assert note == f"Minutes by the built-in analyzer: {endpoint}/v1 was unreachable"
    assert call["minutes"]["summary"]
    assert "internal gateway page" not in str(call)


@pytest.mark.parametrize("failing_endpoint", ["down", "500"], indirect=True)
def test_with_the_fallback_off_the_call_fails_and_points_to_the_ai_settings(
    quick_ai: None, api_server: LiveServer, company: CompanyCtx, failing_endpoint: str
) -> None:
    from callscribe.pipeline.runner import process_call

    with api_server.client(headers=company.headers) as api:
        configure_ai(api, failing_endpoint, fallback=False)
        call_id = insert_text_engagement(company.id, TURNS)
        assert process_call(call_id) == "failed"
        call = api.get(f"/api/calls/{call_id}").json()
    assert call["minutes"] is None
    assert call["error"].endswith(f"{api_server.url}/settings/ai")
    assert "internal gateway page" not in call["error"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_ai_settings_page_saves_the_fallback_switch(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    from tests.web.conftest import create_user, sign_in

    create_user(company.id, "ann@acme.test", "admin")
    web = sign_in(api_server.url, "ann@acme.test")
    page = web.client.get("/settings/ai")
    assert (
        'name="ai_fallback_local"' in page.text
        and "checked" not in page.text.split('name="ai_fallback_local"')[1].split(">")[0]
    )
    saved = web.post_form(
        "/settings/ai",
        {"ai_engine": "local", "outcome_labels": "resolved", "ai_fallback_local": "1"},
    )
    assert saved.status_code == 303, saved.text[:500]
    with api_server.client(headers=company.headers) as api:
        assert api.get("/api/settings/ai").json()["ai_fallback_local"] is True

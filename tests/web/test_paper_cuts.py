"""Issue 18's paper cuts on the pages: the webhook form keeps what was typed after a
refused save (never a stored secret), the delivery log names calls, the Integrations
error is said once and suggests /api/v1 only where it is missing, the drop zone lists
OPUS, the calls list has an Outcome column, and a phone-wide screen (375 px) neither
scrolls sideways nor hides the menu."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.conftest import CompanyCtx, LiveServer
from tests.httpservers import serve
from tests.web.conftest import create_user, insert_transcribed_call, sign_in

SCREENSHOTS = "docs/screenshots"


def _completed_call(company_id: uuid.UUID, **kw: object) -> uuid.UUID:
    from callscribe.pipeline.runner import process_call

    call_id = insert_transcribed_call(company_id, **kw)  # type: ignore[arg-type]
    assert process_call(call_id) == "completed"
    return call_id


def _minutes(call_id: uuid.UUID):  # type: ignore[no-untyped-def]
    from callscribe.calls.models import Minutes
    from callscribe.db import session_scope

    with session_scope() as s:
        m = s.get(Minutes, call_id)
        assert m is not None
        s.expunge(m)
        return m


def test_a_refused_webhook_form_keeps_the_typed_url_and_secret_but_never_a_stored_one(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    create_user(company.id, "ann@acme.test", "admin")
    web = sign_in(api_server.url, "ann@acme.test")
    typed = {
        "kind": "webhook",
        "name": "CRM",
        "url": "https://crm.example.com/hooks/calls",
        "secret": "typed-secret-7781",
        "timeout_s": "30",  # refused: 1-10 s
    }
    refused = web.post_form("/automations", typed)
    assert refused.status_code == 400
    assert 'value="https://crm.example.com/hooks/calls"' in refused.text
    assert 'value="typed-secret-7781"' in refused.text

    with api_server.client() as c:
        made = c.post(
            "/api/automations",
            headers=company.headers,
            json={
                "kind": "webhook",
                "name": "CRM",
                "url": "https://crm.example.com/hooks/calls",
                "secret": "stored-secret-4242-abcdef",
            },
        )
        assert made.status_code == 201, made.text
        automation_id = made.json()["id"]
    page = web.client.get(f"/automations/{automation_id}").text
    assert "stored-secret-4242-abcdef" not in page
    edit = web.post_form(
        f"/automations/{automation_id}",
        {"name": "CRM", "url": "not a url", "secret": "new-typed-secret-99", "enabled": "1"},
    )
    assert edit.status_code == 400, edit.text[:300]
    assert 'value="not a url"' in edit.text
    assert 'value="new-typed-secret-99"' in edit.text
    assert "stored-secret-4242-abcdef" not in edit.text


def test_the_delivery_log_names_calls_by_subject_then_file_name_then_date(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    from sqlalchemy import select

    from callscribe.calls.models import Engagement
    from callscribe.db import session_scope
    from callscribe.delivery.models import Delivery

    create_user(company.id, "ann@acme.test", "admin")
    web = sign_in(api_server.url, "ann@acme.test")
    with api_server.client() as c:
        automation_id = c.post(
            "/api/automations",
            headers=company.headers,
            json={"kind": "webhook", "name": "CRM", "url": "https://crm.example.com/h"},
        ).json()["id"]
    with_minutes = _completed_call(company.id)
    subject = _minutes(with_minutes).subject
    named_file = insert_transcribed_call(company.id)
    bare = insert_transcribed_call(company.id, customer_name="Harper")
    with session_scope() as s:
        s.get(Engagement, named_file).audio_filename = "monday-0930.wav"  # type: ignore[union-attr]
        for call_id in (with_minutes, named_file, bare):
            if s.scalar(select(Delivery.id).where(Delivery.engagement_id == call_id)):
                continue  # the completed call was delivered by the automation itself
            s.add(
                Delivery(
                    company_id=company.id,
                    automation_id=uuid.UUID(automation_id),
                    engagement_id=call_id,
                    event="call.completed",
                    payload="{}",
                    status="failed",
                )
            )
    page = web.client.get(f"/automations/{automation_id}").text
    names = re.findall(r'data-testid="delivery-call">([^<]+)<', page)
    assert subject in names
    assert "monday-0930.wav" in names
    assert any(re.fullmatch(r"Call with Harper, \d{4}-\d\d-\d\d \d\d:\d\d", n) for n in names)
    for call_id in (with_minutes, named_file, bare):
        assert f">{str(call_id)[:8]}<" not in page


def _cloudvoice_error(base_url: str) -> str:
    from callscribe.connectors.cloudvoice import CloudVoiceConnector
    from callscribe.errors import CallscribeError

    try:
        CloudVoiceConnector(base_url, {"api_key": "cv-key"}).test_connection()
    except CallscribeError as exc:
        return exc.message
    raise AssertionError("the connection test passed against a server that answers 404")


def test_the_cloudvoice_error_suggests_api_v1_only_when_the_url_lacks_it(
    app_env: dict[str, str],
) -> None:
    with serve({}) as url:  # answers 404 to everything
        assert "ends with /api/v1" in _cloudvoice_error(url)
        with_path = _cloudvoice_error(f"{url}/api/v1")
    assert "/api/v1" not in with_path.replace(f"{url}/api/v1", "")
    assert "Check the host" in with_path


def test_a_failed_sync_shows_its_error_once_on_the_integrations_card(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    create_user(company.id, "ann@acme.test", "admin")
    web = sign_in(api_server.url, "ann@acme.test")
    with serve({}) as url:
        with api_server.client() as c:
            made = c.post(
                "/api/connectors",
                headers=company.headers,
                json={
                    "type": "cloudvoice",
                    "base_url": f"{url}/api/v1",
                    "credentials": {"api_key": "cv-key"},
                },
            )
            assert made.status_code == 201, made.text
            connector_id = made.json()["id"]
        card = web.client.post(
            f"/integrations/{connector_id}/sync",
            headers={"X-CSRF-Token": web.csrf, "HX-Request": "true"},
        )
    assert card.status_code == 200
    assert "Sync failed" in card.text
    # once above the sync log (which lists every run, this one too)
    assert card.text.split("Sync log")[0].count("HTTP 404") == 1, card.text


def test_the_drop_zone_lists_opus_and_the_calls_list_has_an_outcome_column(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    create_user(company.id, "ann@acme.test", "admin")
    web = sign_in(api_server.url, "ann@acme.test")
    upload = web.client.get("/upload").text
    assert "OPUS" in upload and ".opus," in upload
    call_id = _completed_call(company.id)
    outcome = _minutes(call_id).outcome
    listing = web.client.get("/calls").text
    assert "<th>Outcome</th>" in listing
    cell = re.search(r'data-testid="call-outcome">([^<]*)<', listing)
    assert cell and cell.group(1) == outcome


PHONE_PAGES = [
    "/calls",
    "/upload",
    "/action-items",
    "/automations",
    "/settings/users",
    "/reviews",
    "/reviews/tags",
    "/reviews/forms",
]


@pytest.mark.slow
def test_at_375_px_no_page_scrolls_sideways_and_the_menu_folds_behind_a_button(
    api_server: LiveServer, chromium, company: CompanyCtx
) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    from tests.web.conftest import sign_in_page
    from tests.web.test_browser import _screenshot

    create_user(company.id, "ann@acme.test", "admin")
    call_id = _completed_call(company.id, customer_name="Harper Valley National Bank")
    context = chromium.new_context(viewport={"width": 375, "height": 740})
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        sign_in_page(page, api_server.url, "ann@acme.test")
        _screenshot(page, "phone-calls-after.png")
        for path in [*PHONE_PAGES, f"/calls/{call_id}"]:
            page.goto(f"{api_server.url}{path}")
            page.wait_for_load_state("networkidle")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 375, (path, width)
        # the links are folded; the button opens them and they work
        page.goto(f"{api_server.url}/calls")
        upload = page.locator(".app-nav-links").get_by_role("link", name="Upload")
        expect(upload).to_be_hidden()
        page.get_by_test_id("nav-toggle").click()
        expect(upload).to_be_visible()
        expect(page.get_by_test_id("nav-toggle")).to_have_attribute("aria-expanded", "true")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        _screenshot(page, "phone-menu-after.png")
        upload.click()
        expect(page).to_have_url(re.compile(r"/upload$"))
        # the calls table scrolls inside its box
        page.goto(f"{api_server.url}/calls")
        box = page.locator(".table-wrap").first
        assert box.evaluate("e => e.scrollWidth > e.clientWidth")
        assert box.evaluate("e => getComputedStyle(e).overflowX") == "auto"
    finally:
        context.close()

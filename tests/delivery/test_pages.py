"""The Automations page: over HTTP with a signed-in admin (forms, CSRF, hidden
credentials, roles) and in Chromium (add a webhook, Send test, the delivery in the log)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import CompanyCtx, LiveServer
from tests.delivery.conftest import Receiver, Reply
from tests.web.conftest import PASSWORD as USER_PASSWORD
from tests.web.conftest import (  # noqa: F401  (fixtures: the browser, a fresh login limiter)
    create_user,
    sign_in,
)

pytestmark = pytest.mark.slow


def test_admin_adds_a_webhook_sees_the_key_once_and_sends_a_test(
    api_server: LiveServer, company: CompanyCtx, receiver: Receiver
) -> None:
    create_user(company.id, "ann@acme.test", "admin")
    web = sign_in(api_server.url, "ann@acme.test")
    hook = receiver.url + "?token=abcdef-Zz99"
    added = web.post_form(
        "/automations",
        {
            "kind": "webhook",
            "name": "CRM hook",
            "url": hook,
            "method": "POST",
            "timeout_s": "5",
            "secret": "my-signing-secret",
            "direction": "inbound",
        },
    )
    assert added.status_code == 200, added.text[:500]
    assert 'data-testid="whsec-once"' in added.text and "whsec_" in added.text
    assert "abcdef-Zz99" not in added.text and "my-signing-secret" not in added.text
    automation_id = re.search(r'hx-post="/automations/([0-9a-f-]{36})/test"', added.text)[1]

    listed = web.client.get("/automations").text
    assert "127.0.0.1 …Zz99" in listed and "abcdef" not in listed and "whsec_" not in listed
    assert "External only · inbound" in listed

    tested = web.client.post(
        f"/automations/{automation_id}/test",
        headers={"X-CSRF-Token": web.csrf, "HX-Request": "true"},
    )
    assert tested.status_code == 200
    assert 'data-testid="test-ok"' in tested.text and "HTTP 200" in tested.text
    assert tested.text.count('data-testid="delivery-attempt"') == 1
    assert receiver.requests[0].headers["X-Callscribe-Test"] == "true"

    # without the CSRF token the page refuses
    refused = web.client.post(f"/automations/{automation_id}/test")
    assert refused.status_code == 403
    assert len(receiver.requests) == 1


def test_form_errors_are_shown_and_nothing_is_saved(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    create_user(company.id, "ann@acme.test", "admin")
    web = sign_in(api_server.url, "ann@acme.test")
    answer = web.post_form("/automations", {"kind": "webhook", "name": "x", "url": "ftp://x"})
    assert answer.status_code == 400
    assert 'data-testid="automation-error"' in answer.text
    assert "Only http and https" in answer.text
    assert 'data-testid="no-automations"' in answer.text


def test_toggle_and_smtp_settings_from_the_page(
    api_server: LiveServer, company: CompanyCtx, receiver: Receiver
) -> None:
    create_user(company.id, "ann@acme.test", "admin")
    web = sign_in(api_server.url, "ann@acme.test")
    web.post_form("/automations", {"kind": "slack", "name": "Sales", "url": receiver.url})
    automation_id = re.search(
        r'id="automation-([0-9a-f-]{36})"', web.client.get("/automations").text
    )[1]
    row = web.client.post(
        f"/automations/{automation_id}/toggle",
        headers={"X-CSRF-Token": web.csrf, "HX-Request": "true"},
    )
    assert row.status_code == 200 and " Off" in row.text
    saved = web.post_form(
        "/automations-smtp",
        {
            "host": "smtp.acme.test",
            "port": "2525",
            "tls_mode": "none",
            "username": "mailer",
            "password": "pw-123456",
            "from_address": "minutes@acme.test",
        },
    )
    assert saved.status_code == 303
    page = web.client.get("/automations").text
    assert 'value="smtp.acme.test"' in page and "pw-123456" not in page
    assert "Set (leave empty to keep it)" in page


def test_only_admins_open_the_automations_page(api_server: LiveServer, company: CompanyCtx) -> None:
    create_user(company.id, "max@acme.test", "manager")
    web = sign_in(api_server.url, "max@acme.test")
    assert web.client.get("/automations").status_code == 403
    with api_server.client() as anonymous:
        assert anonymous.get("/automations").status_code in (302, 303, 307)


@pytest.mark.browser
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_browser_add_webhook_send_test_and_see_it_in_the_log(
    api_server: LiveServer,
    company: CompanyCtx,
    chromium,
) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a signed-in admin and a receiver that answers 202
    WHEN they add a webhook automation on the Automations page and press Send test
    THEN the result shows at once and the delivery is in the log with HTTP 202; the
    list shows the automation with its last delivery."""
    from playwright.sync_api import expect

    create_user(company.id, "ann@acme.test", "admin")
    receiver = Receiver()
    receiver.default = Reply(status=202, body=b"accepted")
    context = chromium.new_context(viewport={"width": 1360, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        page.goto(f"{api_server.url}/login")
        page.fill('input[name="email"]', "ann@acme.test")
        page.fill('input[name="password"]', USER_PASSWORD)
        page.click("button[type=submit]")
        expect(page).to_have_url(re.compile(r"/calls$"))

        page.get_by_role("link", name="Automations", exact=True).click()
        expect(page).to_have_url(re.compile(r"/automations$"))
        expect(page.get_by_test_id("no-automations")).to_be_visible()
        page.check('input[name="kind"][value="webhook"]')
        page.fill('input[name="name"]', "Zapier")
        page.get_by_test_id("webhook-url").fill(receiver.url)
        page.fill('[data-kind-fields="webhook"] input[name="secret"]', "zap-secret")
        page.get_by_test_id("add-automation").click()

        expect(page.get_by_test_id("whsec-once")).to_be_visible()
        expect(page.get_by_test_id("no-deliveries")).to_be_visible()
        page.get_by_test_id("send-test").click()
        expect(page.get_by_test_id("test-ok")).to_contain_text("HTTP 202")
        log = page.get_by_test_id("delivery-log")
        expect(log.get_by_test_id("delivery-attempt")).to_have_count(1)
        expect(log).to_contain_text("test")
        expect(log).to_contain_text("202")
        expect(log).to_contain_text("accepted")
        expect(log.get_by_test_id("delivery-status")).to_have_text("succeeded")
        assert len(receiver.requests) == 1

        page.get_by_role("button", name="All automations").click()
        row = page.get_by_test_id("automation-row")
        expect(row).to_contain_text("Zapier")
        expect(row.get_by_test_id("last-delivery")).to_contain_text("succeeded")
        expect(row).to_contain_text("127.0.0.1 …hook")
    finally:
        context.close()
        receiver.close()


def test_an_automation_turned_off_for_failures_shows_why(
    api_server: LiveServer, company: CompanyCtx, receiver: Receiver
) -> None:
    from callscribe.db import session_scope
    from callscribe.delivery.models import Automation
    from tests.delivery.conftest import add_automation

    create_user(company.id, "ann@acme.test", "admin")
    automation_id = add_automation(company, kind="webhook", url=receiver.url)
    with session_scope() as s:
        automation = s.get(Automation, automation_id)
        automation.enabled = False
        automation.disabled_reason = "Turned off automatically after 5 failed deliveries."
    web = sign_in(api_server.url, "ann@acme.test")
    assert "Turned off automatically after 5" in web.client.get("/automations").text
    detail = web.client.get(f"/automations/{automation_id}").text
    assert 'data-testid="disabled-reason"' in detail

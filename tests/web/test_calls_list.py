"""The calls list in Chromium: calls that arrive while it is open appear at the top."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import CompanyCtx, LiveServer
from tests.web.conftest import create_user, insert_transcribed_call, sign_in_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _completed_call(company_id: uuid.UUID, customer: str) -> uuid.UUID:
    from callscribe.calls.models import Engagement
    from callscribe.db import session_scope

    call_id = insert_transcribed_call(company_id, customer_name=customer)
    with session_scope() as s:
        s.get(Engagement, call_id).status = "completed"  # type: ignore[union-attr]
    return call_id


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_call_that_arrives_while_the_list_is_open_appears_at_the_top(
    api_server: LiveServer, company: CompanyCtx, chromium
) -> None:  # type: ignore[no-untyped-def]
    """GIVEN the calls list filtered by customer "Acme", showing only finished calls
    WHEN two calls arrive by another way than this page (one from Acme, one not)
    THEN without a reload the Acme call appears as the first row and the other does not."""
    from playwright.sync_api import expect

    create_user(company.id, "ann@acme.test", "admin")
    old = _completed_call(company.id, "Acme Old")
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        sign_in_page(page, api_server.url, "ann@acme.test")
        page.goto(f"{api_server.url}/calls?customer=Acme")
        rows = page.get_by_test_id("call-row")
        expect(rows).to_have_count(1)
        page.evaluate("() => { window.__noReload = true; }")
        new = _completed_call(company.id, "Acme New")
        _completed_call(company.id, "Other Co")
        expect(rows).to_have_count(2, timeout=20_000)  # page 1 polls every 5 s
        assert rows.nth(0).get_attribute("data-call-id") == str(new)
        assert rows.nth(1).get_attribute("data-call-id") == str(old)
        assert page.evaluate("() => window.__noReload") is True  # updated in place
        expect(page.get_by_text("Other Co")).to_have_count(0)
    finally:
        context.close()

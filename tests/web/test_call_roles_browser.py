"""The call page's roles notice in Chromium: Swap agent/customer, Reprocess, and the
plain "mono recording" notice."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import LiveServer
from tests.web.conftest import create_user, sign_in_page
from tests.web.test_browser import _screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LINES = [  # (channel, role as first guessed, text): the guess was wrong
    (0, "agent", "Hi, I'm looking for a train to Cambridge."),
    (1, "customer", "Thank you for calling, how can I help you?"),
]


def insert_call(company_id: uuid.UUID, *, stereo: bool) -> uuid.UUID:
    from callscribe.calls.models import Engagement, Turn
    from callscribe.db import session_scope

    call_id = uuid.uuid4()
    roles = (
        {"mono": False, "agent_channel": 0, "confidence": 0.62, "method": "guessed"}
        if stereo
        else {"mono": True, "agent_channel": None, "confidence": 0.0, "method": "none"}
    )
    with session_scope() as s:
        s.add(
            Engagement(
                id=call_id,
                company_id=company_id,
                channel="voice",
                source="tests",
                status="completed",
                progress=1.0,
                duration_s=8,
                meta={"transcript_complete": True, "roles": roles},
            )
        )
        s.flush()
        for seq, (channel, role, text) in enumerate(LINES):
            s.add(
                Turn(
                    company_id=company_id,
                    engagement_id=call_id,
                    seq=seq,
                    role=role if stereo else "unknown",
                    channel=channel if stereo else None,
                    start_ms=seq * 3000,
                    end_ms=seq * 3000 + 2500,
                    text=text,
                )
            )
    return call_id


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_call_page_swaps_roles_and_says_when_a_recording_is_mono(
    live_server: LiveServer, chromium, company
) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    create_user(company.id, "ann@acme.test", "admin")
    stereo = insert_call(company.id, stereo=True)
    mono = insert_call(company.id, stereo=False)
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        sign_in_page(page, live_server.url, "ann@acme.test", land_on_calls=False)
        page.goto(f"{live_server.url}/calls/{stereo}")
        notice = page.get_by_test_id("roles-notice")
        expect(notice).to_contain_text("left")
        expect(notice).to_contain_text("62% sure")
        _screenshot(page, "call-roles-notice.png")
        expect(page.get_by_test_id("reprocess")).to_be_visible()
        expect(page.locator(".turn-group.role-agent")).to_contain_text("looking for a train")
        page.get_by_test_id("swap-roles").click()
        expect(page.locator(".turn-group.role-agent")).to_contain_text("how can I help")
        expect(page.locator(".turn-group.role-customer")).to_contain_text("looking for a train")
        page.goto(f"{live_server.url}/calls/{stereo}")
        expect(page.get_by_test_id("roles-notice")).to_contain_text("right")
        expect(page.get_by_test_id("roles-notice")).to_contain_text("set by hand")

        page.goto(f"{live_server.url}/calls/{mono}")
        expect(page.get_by_test_id("mono-notice")).to_contain_text("Mono recording")
        expect(page.get_by_test_id("mono-notice")).to_contain_text("unknown")
        _screenshot(page, "call-mono-notice.png")
        expect(page.get_by_test_id("swap-roles")).to_have_count(0)
    finally:
        context.close()

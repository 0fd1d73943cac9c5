"""The journey page in Chromium: three independently scrolling panes, turns coloured by
role and grouped within a minute, response times, the overlap notice, deep links, and
the remembered prompt that runs again on another engagement."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from tests.conftest import CompanyCtx, LiveServer, wait_for_status
from tests.journey.conftest import T0, build_journey, customer, ticket
from tests.web.conftest import create_user, sign_in_page
from tests.web.test_browser import _screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

GREEN, BLUE, PURPLE = "rgb(22, 163, 74)", "rgb(37, 99, 235)", "rgb(124, 58, 237)"


def _overlapping_bot_chat(client, start: datetime) -> str:  # type: ignore[no-untyped-def]
    """A chat nobody human handled, during the email thread (an explicit conversation)."""
    return ticket(
        client,
        {
            "channel": "chat",
            "external_id": "bot-1",
            "conversation_id": "CASE-BOT",
            "customer": customer(),
            "messages": [
                {
                    "role": "customer",
                    "text": "Is my new card on its way?",
                    "sent_at": start.isoformat(),
                },
                {
                    "role": "bot",
                    "text": "Yes: it was sent yesterday and arrives in three days.",
                    "sent_at": (start + timedelta(seconds=5)).isoformat(),
                },
            ],
        },
    )


def _pane_top(page, selector: str) -> float:  # type: ignore[no-untyped-def]
    """Where an element sits relative to the top of the conversations pane (px)."""
    return page.eval_on_selector(
        selector,
        "el => el.getBoundingClientRect().top - "
        "document.getElementById('conv-pane').getBoundingClientRect().top",
    )


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_journey_page_shows_three_panes_coloured_grouped_with_overlap_and_deep_link(
    live_server: LiveServer, chromium, company: CompanyCtx
) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    create_user(company.id, "ann@acme.test", "admin")
    with live_server.client(headers=company.headers) as client:
        j = build_journey(client, company)
        bot = _overlapping_bot_chat(client, T0 + timedelta(days=3, hours=2))  # in the thread
        wait_for_status(client, bot)
        journey = client.get(f"/api/customers/{j.customer_id}/journey").json()
    reply_turn = next(
        e for c in journey["conversations"] for e in c["engagements"] if e["id"] == j.email_reply
    )["turns"][-1]["id"]
    context = chromium.new_context(viewport={"width": 1400, "height": 850})
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        sign_in_page(page, live_server.url, "ann@acme.test", land_on_calls=False)
        page.goto(f"{live_server.url}/customers")
        page.get_by_test_id("journey-link").first.click()
        expect(page).to_have_url(f"{live_server.url}/customers/{j.customer_id}/journey")
        nav, convs, actions = (
            page.get_by_test_id(n) for n in ("pane-nav", "pane-conversations", "pane-actions")
        )
        for pane in (nav, convs, actions):
            expect(pane).to_be_visible()
            assert pane.evaluate("el => getComputedStyle(el).overflowY") == "auto"
        boxes = [p.bounding_box() for p in (nav, convs, actions)]
        assert boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"]  # side by side, vertical panes
        expect(page.get_by_test_id("contact-frequency")).to_contain_text("6 engagements")
        expect(page.get_by_test_id("contact-frequency")).to_contain_text("4 conversations")
        # the navigation: a full icon for human-handled, an empty one for the bot's chat
        bot_icon = page.locator(f'.nav-eng[data-engagement="{bot}"] .ch-icon')
        call_icon = page.locator(f'.nav-eng[data-engagement="{j.call}"] .ch-icon')
        expect(bot_icon).to_have_class("ch-icon bot")
        expect(call_icon).to_have_class("ch-icon human")
        assert bot_icon.evaluate("el => getComputedStyle(el).backgroundColor") == "rgba(0, 0, 0, 0)"
        assert (
            call_icon.evaluate("el => getComputedStyle(el).backgroundColor") != "rgba(0, 0, 0, 0)"
        )
        # the conversations pane: oldest first, the call on top
        first = page.locator("article.conv").first
        expect(first.locator(".eng-head").first).to_have_id(f"eng-{j.call}")
        expect(first.locator(".dir-icon")).to_have_text("↙")
        expect(page.locator(".nav-conv.in-view").first).to_be_visible()  # the thin bar
        chat = page.locator(f'.turn-group[data-engagement="{j.chat}"]')
        colours = {
            role: page.locator(
                f'.turn-group.role-{role}[data-engagement="{j.chat}"]'
            ).first.evaluate("el => getComputedStyle(el).borderLeftColor")
            for role in ("customer", "agent", "bot")
        }
        assert colours == {"customer": GREEN, "agent": BLUE, "bot": PURPLE}
        # ABCD opens with two agent lines 20 s apart: one block, one header
        opening = chat.first
        expect(opening.locator(".turn")).to_have_count(2)
        expect(opening.locator(".turn-head")).to_have_count(1)
        expect(opening.locator(".participant")).to_have_text("Sam Agent")
        expect(chat.locator(".response-time").first).to_have_text("replied after 20 s")
        expect(page.locator(".participant", has_text="Crystal")).to_have_count(0)
        page.locator(f"#eng-{j.chat}").click()  # selected: the action pane is ready
        _screenshot(page, "journey.png")
        # the overlap notice of the email thread jumps to the bot's conversation
        notice = page.locator(
            f"#conv-{journey['conversations'][2]['id']} [data-testid=overlap-notice]"
        )
        expect(notice).to_be_visible()
        notice.scroll_into_view_if_needed()
        before = convs.evaluate("el => el.scrollTop")
        notice.click()
        bot_conv = f"article.conv:has(#eng-{bot})"
        page.wait_for_function(
            "([sel, before]) => { const pane = document.getElementById('conv-pane');"
            " const el = document.querySelector(sel); if (!el) return false;"
            " const top = el.getBoundingClientRect().top - pane.getBoundingClientRect().top;"
            " return pane.scrollTop > before && top >= -1 && top < pane.clientHeight / 2; }",
            arg=[bot_conv, before],
        )
        # deep link: opened scrolled to the turn, which is selected
        page.goto(
            f"{live_server.url}/customers/{j.customer_id}/journey"
            f"?engagement={j.email_reply}&turn={reply_turn}"
        )
        target = page.locator(f"#turn-{reply_turn}")
        expect(target).to_have_class("turn selected")
        top = _pane_top(page, f"#turn-{reply_turn}")
        height = convs.evaluate("el => el.clientHeight")
        assert 0 <= top < height
        assert convs.evaluate("el => el.scrollTop") > 0
        # similar turns of the selected turn come from the search index (other engagements)
        expect(page.locator("#similar-turns .similar-turn a").first).to_have_attribute(
            "href", re.compile(r"^/calls/[0-9a-f-]+#turn-\d+$")
        )
        # the call page links here
        page.goto(f"{live_server.url}/calls/{j.chat}")
        page.get_by_test_id("journey-link").click()
        expect(page.locator(f"#eng-{j.chat}")).to_have_class("eng-head selected")
    finally:
        context.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_remembered_prompt_runs_again_on_another_engagement(
    live_server: LiveServer, chromium, company: CompanyCtx
) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    create_user(company.id, "ann@acme.test", "admin")
    with live_server.client(headers=company.headers) as client:
        j = build_journey(client, company, with_call=False)
    context = chromium.new_context(viewport={"width": 1400, "height": 850})
    context.set_default_timeout(30_000)
    page = context.new_page()
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if r.url.endswith("/ask") else None)
    try:
        sign_in_page(page, live_server.url, "ann@acme.test", land_on_calls=False)
        page.goto(f"{live_server.url}/customers/{j.customer_id}/journey")
        page.locator(f"#eng-{j.chat}").click()
        page.fill("#ask-prompt", "What is the order ID?")
        page.check('input[name="detail"][value="detailed"]')
        page.click("#ask-button")
        answer = page.get_by_test_id("ask-answer")
        expect(answer).to_have_attribute("data-state", "answered")
        expect(answer).to_contain_text("extractive")
        expect(answer).to_contain_text("3348917502")
        assert asked == [f"{live_server.url}/api/engagements/{j.chat}/ask"]
        # another engagement: the remembered prompt runs again there, by itself
        page.locator(f'.nav-eng[data-engagement="{j.email_first}"]').click()
        expect(answer).to_have_attribute("data-engagement", j.email_first)
        expect(answer).to_have_attribute("data-state", "answered")
        assert asked[-1] == f"{live_server.url}/api/engagements/{j.email_first}/ask"
        expect(page.locator("#ask-prompt")).to_have_value("What is the order ID?")
        # and after a reload, on yet another one
        page.reload()
        page.locator(f"#eng-{j.transfer}").click()
        expect(answer).to_have_attribute("data-engagement", j.transfer)
        expect(answer).to_have_attribute("data-state", "answered")
        expect(page.locator('input[name="detail"][value="detailed"]')).to_be_checked()
        assert asked[-1] == f"{live_server.url}/api/engagements/{j.transfer}/ask"
    finally:
        context.close()

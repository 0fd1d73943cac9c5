"""The Search page and "Similar turns" in Chromium: type a query, see the match
highlighted with the turns around it, open the call at that turn (scrolled to it, the
audio at its time); from a turn, list the similar turns of other conversations."""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path

import pytest

from tests.conftest import AUDIO, LiveServer, insert_text_engagement
from tests.search.corpus_surface import PROMO, REFUND, abcd_turns, add_chat, processed, turn_ids
from tests.web.conftest import create_user, sign_in_page
from tests.web.test_browser import _screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def voice_call_with_audio(company_id: uuid.UUID, tmp_path: Path) -> uuid.UUID:
    """The ABCD refund conversation as a voice call, one turn a second over a real
    30-second recording (so the player has somewhere to seek to)."""
    from callscribe.calls.models import Engagement
    from callscribe.db import session_scope
    from callscribe.storage import get_store

    call_id = insert_text_engagement(
        company_id, abcd_turns(REFUND), turn_ms=1000, channel="voice", duration_s=30.0
    )
    key = f"{company_id}/{call_id}.wav"
    copy = tmp_path / "sample.wav"  # put_file moves its source into the store
    shutil.copyfile(AUDIO / "sample.wav", copy)
    get_store().put_file(key, copy)
    with session_scope() as s:
        call = s.get(Engagement, call_id)
        assert call is not None
        call.audio_key, call.audio_format = key, "wav"
    return processed(call_id)


def _text_of(turn_id: int) -> str:
    from tests.search.corpus_surface import turn_text

    return turn_text(turn_id)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_search_page_finds_highlights_and_opens_the_call_at_the_turn(
    live_server: LiveServer, chromium, company, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    create_user(company.id, "ann@acme.test", "admin")
    call_id = voice_call_with_audio(company.id, tmp_path)
    add_chat(company.id, PROMO)
    target = next(t for t in turn_ids(call_id) if "indicate the status" in _text_of(t))
    context = chromium.new_context(viewport={"width": 1280, "height": 720})
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        sign_in_page(page, live_server.url, "ann@acme.test")
        page.get_by_role("link", name="Search").click()
        expect(page).to_have_url(re.compile(r"/search$"))
        page.get_by_test_id("search-q").fill("status of your refund")
        page.get_by_test_id("mode-keyword").check()
        page.get_by_test_id("search-q").press("Enter")
        hit = page.locator(f'[data-testid=search-hit][data-turn-id="{target}"]')
        expect(hit).to_be_visible()
        marks = hit.get_by_test_id("search-highlight").locator("mark")
        expect(marks.first).to_be_visible()
        assert {m.lower() for m in marks.all_inner_texts()} >= {"status", "refund"}
        expect(hit.get_by_test_id("context-before")).to_have_count(1)
        expect(hit.get_by_test_id("context-after")).to_have_count(1)
        expect(page).to_have_url(re.compile(r"q=status"))  # the search is in the address
        _screenshot(page, "search.png")

        hit.get_by_test_id("search-hit-link").click()
        expect(page).to_have_url(re.compile(rf"/calls/{call_id}\?turn={target}#turn-{target}$"))
        turn = page.locator(f"#turn-{target}")
        expect(turn).to_have_class(re.compile(r"\btarget-turn\b"))
        expect(turn).to_be_in_viewport()
        start_s = int(turn.get_attribute("data-start") or 0) / 1000
        assert start_s > 5  # a turn well into the call, so the seek is visible
        page.wait_for_function(
            "s => Math.abs(document.getElementById('player').currentTime - s) < 0.5", arg=start_s
        )
    finally:
        context.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_similar_turns_lists_other_conversations_and_opens_them(
    live_server: LiveServer, chromium, company
) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    create_user(company.id, "ann@acme.test", "admin")
    refund = add_chat(company.id, REFUND)
    other = processed(
        insert_text_engagement(
            company.id,
            [
                ("customer", "Hello, can you tell me where my refund is? <b>it's late</b>"),
                ("agent", "Let me look that up for you."),
            ],
        )
    )
    add_chat(company.id, PROMO)
    question = turn_ids(refund)[1]  # "just wanted to check on the status of a refund"
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        sign_in_page(page, live_server.url, "ann@acme.test", land_on_calls=False)
        page.goto(f"{live_server.url}/calls/{refund}")
        turn = page.locator(f"#turn-{question}")
        turn.hover()
        button = turn.get_by_test_id("similar-button")
        button.click()
        panel = page.get_by_test_id("similar-panel")
        links = panel.get_by_test_id("similar-link")
        expect(links.first).to_be_visible()
        hrefs = [links.nth(i).get_attribute("href") or "" for i in range(links.count())]
        assert f"/calls/{refund}?" not in hrefs[0]  # other conversations first
        assert not any(f"?turn={question}#" in h for h in hrefs)  # never the turn itself
        other_turn = turn_ids(other)[0]
        to_other = panel.locator(f'a[href^="/calls/{other}?turn={other_turn}#"]')
        expect(to_other).to_have_count(1)
        # a transcript's markup is shown as text, never rendered
        expect(panel.locator("b")).to_have_count(0)
        expect(to_other).to_contain_text("<b>it's late</b>")
        _screenshot(page, "similar-turns.png")
        # the button closes the list, and opens it again
        button.click()
        expect(page.get_by_test_id("similar-panel")).to_have_count(0)
        button.click()
        expect(
            page.get_by_test_id("similar-panel").get_by_test_id("similar-link").first
        ).to_be_visible()
        page.get_by_test_id("similar-panel").locator(
            f'a[href^="/calls/{other}?turn={other_turn}#"]'
        ).click()
        expect(page).to_have_url(re.compile(rf"/calls/{other}\?turn={other_turn}#turn-"))
        expect(page.locator(f"#turn-{other_turn}")).to_have_class(re.compile(r"\btarget-turn\b"))
    finally:
        context.close()

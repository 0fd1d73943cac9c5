"""The web app in Chromium (Debian's, driven by Playwright): from an empty install to
downloaded Minutes and a finished action item, and the screenshots in the README."""

from __future__ import annotations

import io
import re
import uuid
from pathlib import Path

import pytest

from tests.conftest import AUDIO, LiveServer
from tests.web.conftest import PASSWORD, insert_transcribed_call

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CALL_URL = re.compile(r"/calls/[0-9a-f-]{36}$")

# Records, in the page, every status the call page shows and whether transcript turns
# were on screen before the call completed; survives htmx swaps, not a reload.
WATCH_JS = """
() => {
  window.__noReload = true;
  window.__seen = [];
  window.__turnsWhileLive = 0;
  const note = () => {
    const s = document.querySelector('#call-status .call-status');
    if (!s) return;
    const status = s.dataset.status;
    if (window.__seen[window.__seen.length - 1] !== status) window.__seen.push(status);
    if (status !== 'completed') {
      const n = document.querySelectorAll('#transcript .turn').length;
      window.__turnsWhileLive = Math.max(window.__turnsWhileLive, n);
    }
  };
  note();
  new MutationObserver(note).observe(document.body, {subtree: true, childList: true});
}
"""


def _flat(text: str) -> str:
    return " ".join(text.split())


def _screenshot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """A PNG for the README, reduced to a 256-colour palette to keep the repository small."""
    from PIL import Image

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path))
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def _company_id() -> uuid.UUID:
    from callscribe.accounts.models import Company
    from callscribe.db import session_scope

    with session_scope() as s:
        return s.query(Company).one().id


def _agent(name: str) -> uuid.UUID:
    """The agent of the Harper Valley call (its metadata names her)."""
    from callscribe.accounts import service
    from callscribe.db import session_scope

    with session_scope() as s:
        return service.upsert_agent(s, _company_id(), name=name, extension_id="HV-46").id


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_from_first_visit_to_minutes_downloads_and_a_done_action_item(
    api_server: LiveServer, chromium, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """GIVEN an empty data dir and a server whose queue consumer is not started yet
    WHEN a visitor sets up the company, signs in and uploads sample.wav
    THEN the call page shows it queued, then (consumer started) its status changes and
    its transcript and Minutes appear without a reload; the DOCX, PDF and Markdown
    downloads hold the summary; an action item marked done shows on the Action Items
    page. Screenshots of the calls list and the call page go to docs/screenshots."""
    from docx import Document
    from playwright.sync_api import expect
    from pypdf import PdfReader

    from callscribe.calls.tasks import enqueue_calls
    from callscribe.worker import WorkerRunner

    context = chromium.new_context(viewport={"width": 1360, "height": 860}, accept_downloads=True)
    context.set_default_timeout(30_000)
    page = context.new_page()
    runner = None
    try:
        # -- first run: setup signs the admin in (issue 18)
        page.goto(api_server.url)
        expect(page).to_have_url(re.compile(r"/setup$"))
        page.fill('input[name="company_name"]', "Acme Support")
        page.fill('input[name="name"]', "Ann Admin")
        page.fill('input[name="email"]', "ann@acme.test")
        page.fill('input[name="password"]', PASSWORD)
        page.fill('input[name="password_confirm"]', PASSWORD)
        page.click("button[type=submit]")
        expect(page).to_have_url(re.compile(r"/calls$"))
        expect(page.locator(".flash-success")).to_contain_text("administrator of Acme Support")
        expect(page.get_by_test_id("calls-table")).to_contain_text("No calls yet")

        # -- upload a real recording through the upload page (tus, with per-file progress)
        page.get_by_role("link", name="Upload", exact=True).click()
        expect(page).to_have_url(re.compile(r"/upload$"))
        page.set_input_files("#files", str(AUDIO / "sample.wav"))
        page.wait_for_url(CALL_URL)
        upload_url = page.url
        status = page.locator("#call-status .call-status")
        expect(status).to_have_attribute("data-status", "received")
        expect(page.get_by_test_id("live-progress")).to_contain_text("Queued")
        page.evaluate(WATCH_JS)

        # -- the consumer starts: the page follows the call live
        runner = WorkerRunner()
        runner.start()
        expect(page.get_by_test_id("minutes-summary")).to_be_visible(timeout=180_000)
        expect(status).to_have_attribute("data-status", "completed")
        assert page.evaluate("window.__noReload") is True, "the page was reloaded"
        seen = page.evaluate("window.__seen")
        assert seen[0] == "received" and seen[-1] == "completed", seen
        assert {"transcribing", "analyzing"} & set(seen), seen
        transcript = page.get_by_test_id("transcript")
        # content, not a segment count: where one machine's int8 kernels make three long
        # segments of these 30 s, another's make thirteen short ones
        for words in ("Hello", "Diane in New Jersey", "originally from Chicago", "Yankee"):
            expect(transcript).to_contain_text(words)
        assert transcript.locator(".turn").count() >= 2
        summary = page.get_by_test_id("minutes-summary").inner_text().strip()
        assert len(summary) > 20
        expect(page.get_by_test_id("minutes-card")).to_contain_text("Sentiment")

        # -- all three downloads carry the summary
        texts = {}
        for fmt in ("docx", "pdf", "md"):
            with page.expect_download() as info:
                page.get_by_test_id(f"download-{fmt}").click()
            target = tmp_path / f"minutes.{fmt}"
            info.value.save_as(target)
            data = target.read_bytes()
            if fmt == "docx":
                doc = Document(io.BytesIO(data))
                texts[fmt] = "\n".join(p.text for p in doc.paragraphs)
            elif fmt == "pdf":
                reader = PdfReader(io.BytesIO(data))
                texts[fmt] = "\n".join(p.extract_text() or "" for p in reader.pages)
            else:
                texts[fmt] = data.decode()
        for fmt, text in texts.items():
            assert _flat(summary) in _flat(text), f"summary not in the {fmt.upper()}"

        # -- a call with a commitment in it (a real bank call's transcript, delivered
        #    as text), processed by the same running consumer
        committed = insert_transcribed_call(
            _company_id(), agent_id=_agent("Elizabeth"), customer_name="Patricia Brown"
        )
        enqueue_calls([committed])
        page.get_by_role("link", name="Calls", exact=True).click()
        expect(page).to_have_url(re.compile(r"/calls$"))
        row = page.locator(f'tr[data-call-id="{committed}"]')
        # the list updates itself while a call is in progress
        expect(row).to_have_attribute("data-status", "completed", timeout=120_000)
        expect(page.get_by_test_id("call-row")).to_have_count(2)
        page.mouse.move(0, 0)
        _screenshot(page, "calls-list.png")

        row.get_by_role("link").click()
        expect(page).to_have_url(re.compile(rf"/calls/{committed}$"))
        expect(page.locator(".turn-group.role-agent").first).to_be_visible()
        expect(page.locator(".turn-group.role-customer").first).to_be_visible()
        expect(page.locator(".resp").first).to_contain_text("responded in")
        item = page.get_by_test_id("action-item").first
        title = item.locator(".title-text").inner_text()
        expect(item).to_have_attribute("data-status", "open")
        _screenshot(page, "call-page.png")
        item.get_by_test_id("toggle-item").click()
        expect(page.get_by_test_id("action-item").first).to_have_attribute("data-status", "done")

        page.get_by_role("link", name="Action Items", exact=True).click()
        expect(page).to_have_url(re.compile(r"/action-items$"))
        expect(page.get_by_test_id("items-table")).not_to_contain_text(title)
        page.select_option('select[name="status"]', "done")
        done_row = page.get_by_test_id("item-row").filter(has_text=title)
        expect(done_row).to_have_attribute("data-status", "done")
        done_row.get_by_test_id("item-call-link").click()
        expect(page).to_have_url(re.compile(rf"/calls/{committed}$"))

        # -- the uploaded call: the player seeks to a turn when it is clicked
        page.goto(upload_url)
        page.locator("#transcript .turn").last.click()
        page.wait_for_function(
            "document.getElementById('player').currentTime > 0.5", timeout=15_000
        )
        expect(page.locator("#transcript .turn.current")).to_have_count(1, timeout=15_000)
        page.evaluate("document.getElementById('player').pause()")
        _screenshot(page, "call-page-audio.png")
    finally:
        if runner is not None:
            runner.stop()
        context.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_upload_page_sends_many_files_with_a_progress_bar_each(
    api_server: LiveServer, chromium, company, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Two recordings and a text file dropped at once: each gets its own row and
    progress bar; the recordings link to their calls, the text file says why it was
    refused, and the page stays (several files: no jump to one call)."""
    from playwright.sync_api import expect

    from tests.web.conftest import create_user

    create_user(company.id, "ann@acme.test", "admin")
    notes = tmp_path / "notes.txt"
    notes.write_text("not a recording\n" * 50)
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        page.goto(f"{api_server.url}/login")
        page.fill('input[name="email"]', "ann@acme.test")
        page.fill('input[name="password"]', PASSWORD)
        page.click("button[type=submit]")
        expect(page).to_have_url(re.compile(r"/calls$"))
        page.goto(f"{api_server.url}/upload")
        page.fill('input[name="customer_name"]', "Acme Corp")
        page.set_input_files(
            "#files", [str(AUDIO / "jfk.flac"), str(AUDIO / "stereo_diarization.wav"), str(notes)]
        )
        items = page.get_by_test_id("upload-item")
        expect(items).to_have_count(3)
        expect(page.get_by_test_id("upload-done")).to_be_visible()
        expect(items.filter(has_text="jfk.flac").get_by_role("link")).to_have_text(
            "Uploaded: open the call"
        )
        expect(
            items.filter(has_text="stereo_diarization.wav").locator("progress")
        ).to_have_attribute("value", "100")
        expect(items.filter(has_text="notes.txt").locator(".state.error")).to_contain_text(
            "not a supported recording"
        )
        assert page.url.endswith("/upload")
        page.get_by_role("link", name="See all calls").click()
        rows = page.get_by_test_id("call-row")
        expect(rows).to_have_count(2)
        expect(rows.first).to_contain_text("Acme Corp")
    finally:
        context.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_call_page_streams_the_transcript_while_the_call_is_transcribed(
    api_server: LiveServer, chromium, company
) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a call being transcribed (turns and progress written the way the pipeline
    writes them, one commit at a time) WHEN its page is open THEN each turn and the
    percentage appear as they are committed, grouped and colour-coded, and when the call
    completes the Minutes appear, all without a reload."""
    from playwright.sync_api import expect

    from callscribe.calls.models import Engagement, Turn
    from callscribe.db import session_scope
    from callscribe.minutes import service as minutes
    from callscribe.minutes.analyzers.local import LocalAnalyzer
    from tests.web.conftest import create_user

    create_user(company.id, "ann@acme.test", "admin")
    call_id = uuid.uuid4()
    lines = [
        ("agent", "Thank you for calling Acme, this is Dana speaking."),
        ("customer", "Hi, my order 4471 arrived damaged and I need a replacement."),
        ("agent", "I am sorry about that. I will send you a replacement today."),
        ("customer", "Thank you, that would be great."),
    ]
    with session_scope() as s:
        s.add(
            Engagement(
                id=call_id,
                company_id=company.id,
                channel="voice",
                source="tests",
                customer_name="Sam Lee",
                status="transcribing",
                progress=0.0,
                duration_s=20,
            )
        )
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        page.goto(f"{api_server.url}/login")
        page.fill('input[name="email"]', "ann@acme.test")
        page.fill('input[name="password"]', PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{api_server.url}/calls/{call_id}")
        page.evaluate("window.__noReload = true")
        expect(page.get_by_test_id("transcript")).to_contain_text("appears here")
        for seq, (role, text) in enumerate(lines):
            with session_scope() as s:
                s.add(
                    Turn(
                        company_id=company.id,
                        engagement_id=call_id,
                        seq=seq,
                        role=role,
                        start_ms=seq * 5000,
                        end_ms=seq * 5000 + 4000,
                        text=text,
                    )
                )
                s.get(Engagement, call_id).progress = (seq + 1) / len(lines)
            expect(page.locator("#transcript .turn")).to_have_count(seq + 1)
            expect(page.locator("#transcript")).to_contain_text(text)
            percent = round((seq + 1) / len(lines) * 100)
            if percent < 100:
                expect(page.locator("#call-status")).to_contain_text(f"Transcribing {percent}%")
        expect(page.locator(".turn-group.role-customer .who strong").first).to_have_text("Sam Lee")
        expect(page.locator(".turn-group.role-agent")).to_have_count(2)
        expect(page.get_by_test_id("minutes-summary")).to_have_count(0)
        with session_scope() as s:
            call = s.get(Engagement, call_id)
            minutes.analyze_engagement(s, call, LocalAnalyzer())
            call.status, call.progress = "completed", 1.0
        expect(page.get_by_test_id("minutes-summary")).to_be_visible()
        expect(page.get_by_test_id("action-item").first).to_contain_text("replacement")
        assert page.evaluate("window.__noReload") is True
    finally:
        context.close()

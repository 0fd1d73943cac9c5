"""Issue 18: the upload page checks the server's size limit before sending, warns before
leaving mid-upload, and sends through tus (/api/uploads/) so a dropped upload resumes
from the server's offset, also after a reload."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import AUDIO, CompanyCtx, LiveServer
from tests.web.conftest import create_user, sign_in_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHUNK = 256 * 1024  # the page's PATCH size in these tests (window.CALLSCRIBE_TUS_CHUNK)
WAV = AUDIO / "sample.wav"  # 960,104 bytes: four PATCHes


@pytest.fixture
def one_mb_limit(app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from callscribe.settings import reset_settings

    monkeypatch.setenv("CALLSCRIBE_MAX_UPLOAD_MB", "1")
    reset_settings()
    yield
    reset_settings()


def _page(chromium, url: str):  # type: ignore[no-untyped-def]
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(30_000)
    context.add_init_script(f"window.CALLSCRIBE_TUS_CHUNK = {CHUNK};")
    page = context.new_page()
    sign_in_page(page, url, "ann@acme.test")
    page.goto(f"{url}/upload")
    return context, page


def _stored_audio(call_id: str) -> bytes:
    from callscribe.calls.models import Engagement
    from callscribe.db import session_scope
    from callscribe.storage import get_store

    with session_scope() as s:
        call = s.get(Engagement, uuid.UUID(call_id))
        assert call is not None and call.audio_key
        key, source = call.audio_key, call.source
    assert source == "upload"
    with get_store().local_path(key) as path:
        return path.read_bytes()


def test_an_oversize_file_is_refused_before_a_byte_is_sent(
    one_mb_limit: None, api_server: LiveServer, chromium, company: CompanyCtx
) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    create_user(company.id, "ann@acme.test", "admin")
    context, page = _page(chromium, api_server.url)
    sent: list[str] = []
    page.on("request", lambda r: sent.append(f"{r.method} {r.url}"))
    try:
        expect(page.get_by_test_id("dropzone")).to_contain_text("up to 1 MB each")
        big = {"name": "long-call.wav", "mimeType": "audio/wav", "buffer": b"\0" * 1_500_000}
        page.set_input_files("#files", files=[big])
        item = page.get_by_test_id("upload-item")
        expect(item).to_contain_text("Too large")
        expect(item).to_contain_text("Nothing was sent")
        from tests.web.test_browser import _screenshot

        _screenshot(page, "upload-too-large-after.png")
        page.wait_for_timeout(500)
        assert not [r for r in sent if "/api/uploads" in r or "/api/add-calls" in r], sent
    finally:
        context.close()


def test_a_dropped_patch_resumes_from_the_servers_offset(
    one_mb_limit: None, api_server: LiveServer, chromium, company: CompanyCtx
) -> None:  # type: ignore[no-untyped-def]
    """GIVEN an upload whose second PATCH reaches the server but whose answer is lost (the
    connection drops) WHEN the page goes on THEN it asks HEAD, continues at the server's
    offset (past the lost chunk, not sending it again), and the call has every byte."""
    from playwright.sync_api import expect

    create_user(company.id, "ann@acme.test", "admin")
    context, page = _page(chromium, api_server.url)
    seen: list[tuple[str, str | None]] = []
    state = {"patches": 0}

    def handle(route) -> None:  # type: ignore[no-untyped-def]
        request = route.request
        seen.append((request.method, request.headers.get("upload-offset")))
        if request.method == "PATCH":
            state["patches"] += 1
            if state["patches"] == 2:
                route.fetch()  # the server takes the chunk ...
                route.abort("connectionreset")  # ... and the answer never arrives
                return
        route.continue_()

    page.route(re.compile(r".*/api/uploads/.*"), handle)
    try:
        page.set_input_files("#files", str(WAV))
        expect(page).to_have_url(re.compile(r"/calls/[0-9a-f-]{36}$"), timeout=60_000)
        call_id = page.url.rsplit("/", 1)[1]
    finally:
        context.close()
    patches = [int(o or -1) for m, o in seen if m == "PATCH"]
    assert patches[:2] == [0, CHUNK]
    assert ("HEAD", None) in seen
    assert patches[2] == 2 * CHUNK, patches  # the server's offset, not the page's
    assert [m for m, _ in seen].count("POST") == 1
    assert (
        hashlib.sha256(_stored_audio(call_id)).digest() == hashlib.sha256(WAV.read_bytes()).digest()
    )


def test_leaving_mid_upload_warns_and_the_same_file_resumes_after_a_reload(
    one_mb_limit: None, api_server: LiveServer, chromium, company: CompanyCtx
) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    create_user(company.id, "ann@acme.test", "admin")
    context, page = _page(chromium, api_server.url)
    seen: list[tuple[str, str | None]] = []
    state = {"patches": 0, "cut": True}

    def handle(route) -> None:  # type: ignore[no-untyped-def]
        request = route.request
        seen.append((request.method, request.headers.get("upload-offset")))
        if request.method == "PATCH":
            state["patches"] += 1
            if state["cut"] and state["patches"] > 1:
                route.abort("connectionreset")  # the network is gone after one chunk
                return
        route.continue_()

    dialogs: list[str] = []

    def on_dialog(dialog) -> None:  # type: ignore[no-untyped-def]
        dialogs.append(dialog.type)
        dialog.accept()

    page.route(re.compile(r".*/api/uploads/.*"), handle)
    page.on("dialog", on_dialog)
    try:
        page.click("input[name=customer_name]")  # a user gesture: Chromium's beforeunload rule
        page.set_input_files("#files", str(WAV))
        expect(page.get_by_test_id("upload-item")).to_contain_text("resuming", timeout=30_000)
        page.reload()
        assert "beforeunload" in dialogs
        state["cut"] = False
        seen.clear()
        page.set_input_files("#files", str(WAV))
        expect(page).to_have_url(re.compile(r"/calls/[0-9a-f-]{36}$"), timeout=60_000)
        call_id = page.url.rsplit("/", 1)[1]
    finally:
        context.close()
    methods = [m for m, _ in seen]
    assert "POST" not in methods, seen  # no new upload: the stored one resumed
    assert methods[0] == "HEAD"
    first_patch = next(int(o or -1) for m, o in seen if m == "PATCH")
    assert first_patch == CHUNK
    assert _stored_audio(call_id) == WAV.read_bytes()

"""Issue 18: one duration and one timestamp format on the call page, the calls list, the
Minutes' overview and the MD/DOCX/PDF exports; response times and overlaps only where the
turn times are real (word timestamps on audio, `sent_at` on messages)."""

from __future__ import annotations

import io
import json
import re
import uuid

import pytest

from tests.conftest import CompanyCtx, LiveServer
from tests.web.conftest import create_user, sign_in


def _set(call_id: uuid.UUID, **values: object) -> None:
    from callscribe.calls.models import Engagement
    from callscribe.db import session_scope

    with session_scope() as s:
        call = s.get(Engagement, call_id)
        assert call is not None
        for key, value in values.items():
            setattr(call, key, value)


def _first_turn_at(call_id: uuid.UUID, start_ms: int) -> None:
    from callscribe.calls.models import Turn
    from callscribe.db import session_scope

    with session_scope() as s:
        first = s.query(Turn).filter_by(engagement_id=call_id).order_by(Turn.start_ms).first()
        assert first is not None
        first.start_ms = start_ms


def test_page_list_overview_and_every_export_show_one_duration_and_one_first_timestamp(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    """GIVEN a call of 182.6 s whose first turn starts at 4.6 s (the case that read 3:03,
    03:02 and 03:01, and 0:05 vs [00:04]) WHEN its page, the calls list, its Minutes and
    the three exports are read THEN each says 03:02 and 00:04, and none another form."""
    from docx import Document
    from pypdf import PdfReader

    from callscribe.pipeline.runner import process_call
    from tests.web.conftest import insert_transcribed_call

    call_id = insert_transcribed_call(company.id, customer_name="Harper")
    _set(call_id, duration_s=182.6)
    _first_turn_at(call_id, 4600)
    assert process_call(call_id) == "completed"

    create_user(company.id, "ann@acme.test", "admin")
    web = sign_in(api_server.url, "ann@acme.test")
    page = web.client.get(f"/calls/{call_id}").text
    listing = web.client.get("/calls").text
    md = web.client.get(f"/api/calls/{call_id}/minutes.md").text
    docx_bytes = web.client.get(f"/api/calls/{call_id}/minutes.docx").content
    pdf_bytes = web.client.get(f"/api/calls/{call_id}/minutes.pdf").content
    document = Document(io.BytesIO(docx_bytes))
    docx = "\n".join(
        [p.text for p in document.paragraphs]
        + [c.text for t in document.tables for row in t.rows for c in row.cells]
    )
    pdf = "\n".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf_bytes)).pages)

    for name, text in [("page", page), ("list", listing), ("md", md), ("docx", docx), ("pdf", pdf)]:
        assert "03:02" in text, name
        assert not re.search(r"(?<![\d:])(3:03|3:02|03:03|03:01)(?![\d:])", text), name
    # the Minutes' overview says the same length as the page
    assert "03:02 long" in page
    # the first turn's timestamp
    assert re.search(r'class="t">00:04<', page)
    for name, text in [("md", md), ("docx", docx), ("pdf", pdf)]:
        assert "[00:04]" in text, name
        assert "[00:05]" not in text and "0:05" not in text, name


def _ticket(web, external_id: str, sent: bool) -> str:  # type: ignore[no-untyped-def]
    times = ["2026-11-20T14:03:00Z", "2026-11-20T14:03:40Z", "2026-11-20T14:04:10Z"]
    texts = [
        ("customer", "I need to return an item I bought last week."),
        ("agent", "Sure, may I have your order number please?"),
        ("customer", "It is 55120, thank you."),
    ]
    messages = [
        {"role": role, "text": text, **({"sent_at": at} if sent else {})}
        for (role, text), at in zip(texts, times, strict=True)
    ]
    answer = web.client.post(
        "/api/tickets",
        headers={"X-CSRF-Token": web.csrf},
        json={"channel": "chat", "external_id": external_id, "messages": messages},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["call_id"] if "call_id" in answer.json() else answer.json()["id"]


def test_chats_show_response_times_only_when_their_messages_carry_sent_at(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    """GIVEN two chats, one without `sent_at` (kept in order on a made-up 1 s clock) and
    one with WHEN their pages are read THEN the first shows no "responded in", no
    timestamps' made-up length in the overview and no "Duration"; the second shows the
    real 40 s response."""
    from callscribe.calls.models import Engagement
    from callscribe.db import session_scope
    from callscribe.pipeline.runner import process_call

    create_user(company.id, "ann@acme.test", "admin")
    web = sign_in(api_server.url, "ann@acme.test")
    untimed = _ticket(web, "chat-untimed", sent=False)
    timed = _ticket(web, "chat-timed", sent=True)
    for call_id in (untimed, timed):
        assert process_call(uuid.UUID(call_id)) == "completed"
    with session_scope() as s:
        assert s.get(Engagement, uuid.UUID(untimed)).meta["timing"] == "none"  # type: ignore[union-attr]
        assert s.get(Engagement, uuid.UUID(timed)).meta["timing"] == "real"  # type: ignore[union-attr]

    page = web.client.get(f"/calls/{untimed}").text
    assert "responded in" not in page and "spoke over" not in page
    assert 'data-times-real="false"' in page
    assert not re.search(r"\d\d:\d\d long", page)
    assert "Duration" not in page
    assert 'class="t">' not in page  # no made-up timestamps on the turns

    page = web.client.get(f"/calls/{timed}").text
    assert "responded in 40.0 s" in page
    assert 'data-times-real="true"' in page
    assert "Duration <b>01:10</b>" in page
    assert 'class="t">00:40<' in page


@pytest.mark.parametrize(
    ("meta", "channel", "real"),
    [
        ({"timing": "real"}, "voice", True),
        ({"timing": "segments"}, "voice", False),
        ({"timing": "none"}, "chat", False),
        ({"speech": {"engine": "faster-whisper"}}, "voice", False),  # before word timestamps
        ({"speech": {"engine": "faster-whisper", "word_timestamps": True}}, "voice", True),
        ({}, "voice", True),  # a provider's transcript
        ({}, "chat", False),  # an old thread: its clock may be made up
    ],
)
def test_times_are_real_only_from_words_sent_at_or_a_provider(
    meta: dict, channel: str, real: bool
) -> None:
    from callscribe.calls.models import Engagement
    from callscribe.calls.service import times_are_real

    assert times_are_real(Engagement(meta=json.loads(json.dumps(meta)), channel=channel)) is real


def test_group_turns_leaves_out_response_times_that_are_not_real() -> None:
    from callscribe.calls.models import Engagement, Turn
    from callscribe.calls.views import group_turns

    call = Engagement(channel="voice", meta={})
    turns = [
        Turn(seq=0, role="customer", start_ms=0, end_ms=14_000, text="a long segment"),
        Turn(seq=1, role="agent", start_ms=3_300, end_ms=5_000, text="over it"),
    ]
    assert group_turns(turns, call, None, times_real=True)[1].response_ms == -10_700
    assert group_turns(turns, call, None, times_real=False)[1].response_ms is None

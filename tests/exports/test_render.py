"""Exports render the same Minutes and transcript as Markdown, DOCX and PDF."""

from __future__ import annotations

import io

import pytest
from docx import Document
from pypdf import PdfReader

from callscribe.errors import BadRequest
from callscribe.exports import (
    EXPORT_FORMATS,
    ExportDoc,
    ExportTurn,
    export_filename,
    render_docx,
    render_markdown,
    render_pdf,
)

from .conftest import LONG_SUMMARY


def docx_text(data: bytes) -> str:
    document = Document(io.BytesIO(data))
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines.append(" | ".join(cell.text for cell in row.cells))
    return "\n".join(lines)


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


# ---------------------------------------------------------------------------------- markdown


def test_markdown_has_every_section_in_order(big_doc: ExportDoc) -> None:
    md = render_markdown(big_doc)
    headings = [
        "# Refund request — “double charge” for Zoë",
        "## Summary",
        "## Overview",
        "## Sentiment and outcome",
        "## Key points",
        "## Next steps",
        "## Action items",
        "## Notes",
        "## Tags",
        "## Transcript",
    ]
    positions = [md.index(f"\n{h}\n" if i else f"{h}\n") for i, h in enumerate(headings)]
    assert positions == sorted(positions)
    assert "- **Duration:** 2:00:05" in md
    assert "- **Date:** 2026-11-21 07:55 UTC" in md
    assert "- **Agent:** José Müller" in md
    assert "- **Sentiment:** negative → positive" in md
    assert "- **Outcome:** Refund issued" in md


def test_markdown_escapes_user_text(big_doc: ExportDoc) -> None:
    md = render_markdown(big_doc)
    assert "opened ticket \\[REF-9\\]" in md
    assert "the \\*duplicate\\* charge" in md
    assert "order \\#4711" in md
    line = (
        "\\*bold\\* \\_under\\_ \\`code\\` \\<script\\>alert(1)\\</script\\> "
        "\\[link\\](http://x) \\| pipe"
    )
    assert line in md
    assert "<script>" not in md
    # Block markers at line start in user prose stay text.
    assert "\\# Not a heading" in md
    assert "\\- not a list" in md


def test_markdown_escapes_block_markers_in_short_fields() -> None:
    doc = ExportDoc(
        call_id="c1",
        title="# 1. > - title",
        status="completed",
        summary="1. first\n> quote",
        started_at=None,
        duration_s=None,
        direction=None,
        agent_name="<b>",
        customer_name=None,
        overview=None,
        sentiment=None,
        outcome=None,
    )
    md = render_markdown(doc)
    assert md.startswith("# \\# 1. \\> - title\n")
    assert "1\\. first  \n\\> quote" in md
    assert "- **Agent:** \\<b\\>" in md


def test_markdown_action_items_are_checkboxes(big_doc: ExportDoc) -> None:
    md = render_markdown(big_doc)
    items = [line for line in md.splitlines() if line.startswith(("- [x] ", "- [ ] "))]
    assert len(items) == 60
    assert "- [x] Follow-up task 0: refund €0.00 to Zoë — priority: high" in items
    assert (
        "- [ ] Follow-up task 1: refund €1.00 to Zoë — priority: medium · owner: José Müller"
        " · due: 2026-12-02"
    ) in items
    assert sum(item.startswith("- [x]") for item in items) == 15


def test_markdown_transcript_has_one_labelled_entry_per_turn(big_doc: ExportDoc) -> None:
    md = render_markdown(big_doc)
    transcript = md.split("\n## Transcript\n", 1)[1]
    entries = [line for line in transcript.splitlines() if line.startswith("**[")]
    assert len(entries) == 2_000
    assert entries[1] == "**[00:03] Customer:** I was charged €129.99 twice, “again”! 😡 (turn 1)"
    assert entries[0].startswith("**[00:00] Agent (Anna Müller):** Grüß Gott")
    assert entries[3].startswith("**[00:10] Speaker:** Спасибо")
    assert entries[2].startswith("**[00:07] Bot:** ")
    assert entries[-1].startswith("**[1:59:56] Speaker:** ")


# -------------------------------------------------------------------------------------- docx


def test_docx_contains_summary_action_items_and_transcript(big_doc: ExportDoc) -> None:
    data = render_docx(big_doc)
    document = Document(io.BytesIO(data))
    paragraphs = [p.text for p in document.paragraphs]
    assert document.core_properties.title == "Refund request — “double charge” for Zoë"
    assert paragraphs[0] == "Refund request — “double charge” for Zoë"
    assert LONG_SUMMARY.strip() in paragraphs
    assert "[00:03] Customer: I was charged €129.99 twice, “again”! 😡 (turn 1)" in paragraphs
    assert "[00:14] Agent: 顧客は返金を希望しています (turn 4)" in paragraphs
    assert "[1:59:56] Speaker: I was charged €129.99 twice, “again”! 😡 (turn 1999)" in paragraphs
    assert sum(p.startswith("[") for p in paragraphs) == 2_000

    meta, items = document.tables
    assert [row.cells[0].text for row in meta.rows] == [
        "Date",
        "Duration",
        "Direction",
        "Agent",
        "Customer",
        "Status",
    ]
    assert meta.rows[4].cells[1].text == "Zoë Ångström"
    rows = [[cell.text for cell in row.cells] for row in items.rows]
    assert rows[0] == ["", "Action item", "Priority", "Owner", "Due"]
    assert len(rows) == 61
    assert rows[1] == ["☑", "Follow-up task 0: refund €0.00 to Zoë", "high", "—", "—"]
    assert rows[2] == [
        "☐",
        "Follow-up task 1: refund €1.00 to Zoë",
        "medium",
        "José Müller",
        "2026-12-02",
    ]


def test_docx_colours_and_bolds_transcript_roles(big_doc: ExportDoc) -> None:
    document = Document(io.BytesIO(render_docx(big_doc)))
    turns = [p for p in document.paragraphs if p.text.startswith("[00:0")]
    agent, customer = turns[0].runs[1], turns[1].runs[1]
    assert agent.bold and customer.bold
    assert agent.font.color.rgb != customer.font.color.rgb


def test_docx_drops_characters_xml_cannot_hold() -> None:
    doc = ExportDoc(
        call_id="c1",
        title="Nul\x00 byte",
        status="completed",
        summary="bell\x07 and \ud800 surrogate",
        started_at=None,
        duration_s=None,
        direction=None,
        agent_name=None,
        customer_name=None,
        overview=None,
        sentiment=None,
        outcome=None,
        turns=[ExportTurn(role="agent", start_ms=0, end_ms=1, text="vertical\x0btab")],
    )
    text = docx_text(render_docx(doc))
    assert "bell and  surrogate" in text
    assert "[00:00] Agent: verticaltab" in text
    assert render_pdf(doc).startswith(b"%PDF")
    assert "verticaltab" in render_markdown(doc)


# --------------------------------------------------------------------------------------- pdf


def test_pdf_contains_summary_and_unicode_transcript(big_doc: ExportDoc) -> None:
    data = render_pdf(big_doc)
    assert data.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(data))
    text = pdf_text(data)
    flat = " ".join(text.split())
    assert "Zoë Ångström called about a refund of €129.99 for order #4711" in flat
    assert "[00:07] Bot: Je comprends, ça arrive rarement. Δ = 2 × €129,99 (turn 2)" in flat
    assert "[00:10] Speaker: Спасибо, жду возврат. (turn 3)" in flat
    assert "[1:59:52] Bot: Grüß Gott, hier ist José Müller" in flat
    assert "Follow-up task 59: refund €59.00 to Zoë" in flat
    first = reader.pages[0].extract_text()
    assert "Duration" in first and "2:00:05" in first
    assert f"Page 1 of {len(reader.pages)}" in first
    assert f"Page {len(reader.pages)} of {len(reader.pages)}" in reader.pages[-1].extract_text()


def test_pdf_replaces_characters_the_font_lacks() -> None:
    doc = ExportDoc(
        call_id="c1",
        title="顧客 🦜 test",
        status="completed",
        summary="Hi 👋🏽 there 顧客 ok",
        started_at=None,
        duration_s=None,
        direction=None,
        agent_name=None,
        customer_name=None,
        overview=None,
        sentiment=None,
        outcome=None,
        turns=[ExportTurn(role="customer", start_ms=0, end_ms=1, text="Family 👨‍👩‍👧 and flag 🇩🇪")],
    )
    flat = " ".join(pdf_text(render_pdf(doc)).split())
    assert "Hi \ufffd there \ufffd ok" in flat
    assert "[00:00] Customer: Family" in flat


def test_pdf_wraps_a_word_longer_than_the_page() -> None:
    doc = ExportDoc(
        call_id="c1",
        title="x" * 400,
        status="completed",
        summary="y" * 2_000,
        started_at=None,
        duration_s=None,
        direction=None,
        agent_name=None,
        customer_name=None,
        overview=None,
        sentiment=None,
        outcome=None,
        turns=[ExportTurn(role="agent", start_ms=0, end_ms=1, text="https://e.com/" + "z" * 900)],
    )
    assert "y" * 50 in pdf_text(render_pdf(doc))


# ------------------------------------------------------------------------------ all formats


@pytest.mark.parametrize("fmt", sorted(EXPORT_FORMATS))
def test_empty_minutes_render_in_every_format(empty_doc: ExportDoc, fmt: str) -> None:
    media_type, render = EXPORT_FORMATS[fmt]
    out = render(empty_doc)
    if fmt == "md":
        assert media_type == "text/markdown; charset=utf-8"
        text = out
    elif fmt == "docx":
        assert out[:2] == b"PK"
        text = docx_text(out)
    else:
        assert out[:5] == b"%PDF-"
        text = pdf_text(out)
    for expected in (
        "Call ff00ee11",
        "Summary",
        "No summary yet.",
        "Transcript",
        "No transcript yet.",
    ):
        assert expected in text
    assert "Transcribing" in text
    assert "Action items" not in text


def test_two_hour_call_renders_in_every_format(big_doc: ExportDoc) -> None:
    # speed is measured by bench/bench_exports.py, not asserted here
    assert render_markdown(big_doc).count("\n") > len(big_doc.turns)
    assert render_docx(big_doc)[:2] == b"PK"
    assert render_pdf(big_doc)[:5] == b"%PDF-"


# --------------------------------------------------------------------------------- filename


def test_filename_has_date_slug_and_short_id(big_doc: ExportDoc) -> None:
    expected = "2026-11-21-refund-request-double-charge-for-zoe-ab12cd34.pdf"
    assert export_filename(big_doc, "pdf") == expected
    assert export_filename(big_doc, "md").endswith("-ab12cd34.md")


def test_filename_does_not_repeat_the_short_id(empty_doc: ExportDoc) -> None:
    assert export_filename(empty_doc, "docx") == "call-ff00ee11.docx"


@pytest.mark.parametrize(
    "title",
    [
        "../../etc/passwd",
        "🔥🔥🔥",
        "a" * 300,
        'Ünïcödé / \\ : * ? " < > | \x00 name' * 20,
        "",
        "...",
        "CON",
    ],
)
def test_filename_is_safe_for_hostile_titles(big_doc: ExportDoc, title: str) -> None:
    doc = big_doc.model_copy(update={"title": title, "call_id": "../ab/12"})
    for fmt in EXPORT_FORMATS:
        name = export_filename(doc, fmt)
        stem, ext = name.rsplit(".", 1)
        assert ext == fmt
        assert name.isascii() and len(name) <= 100
        assert all(c.isalnum() and c.islower() or c.isdigit() or c == "-" for c in stem), name
        assert stem and not stem.startswith("-") and not stem.endswith("-")
        assert "/" not in name and "\\" not in name and ".." not in name


def test_filename_rejects_unknown_format(big_doc: ExportDoc) -> None:
    with pytest.raises(BadRequest):
        export_filename(big_doc, "exe")


def test_docx_author_is_the_company_not_python_docx(big_doc: ExportDoc) -> None:
    named = Document(io.BytesIO(render_docx(big_doc.model_copy(update={"company_name": "Acme"}))))
    assert named.core_properties.author == "Acme"
    assert named.core_properties.last_modified_by == "Acme"
    plain = Document(io.BytesIO(render_docx(big_doc.model_copy(update={"company_name": None}))))
    assert plain.core_properties.author == "callscribe"
    assert "python-docx" not in (plain.core_properties.comments or "")

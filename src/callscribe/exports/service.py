"""Render a call's Minutes and transcript as Markdown, DOCX or PDF.

Every renderer takes the same ExportDoc and writes the same content in the same order:
title, metadata, summary (and overview), sentiment and outcome, sections, action items,
notes, tags, transcript. Renderers are pure functions (no database, no network), so the
API, the delivery automations and the CLI can all call them.
"""

from __future__ import annotations

import io
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from callscribe.errors import BadRequest, ErrorCode
from callscribe.exports.schemas import ExportActionItem, ExportDoc, ExportTurn
from callscribe.kit.timefmt import format_duration, format_offset_ms

FONT_DIR = Path(__file__).parent / "fonts"
PDF_FONT_REGULAR = FONT_DIR / "DejaVuSans.ttf"
PDF_FONT_BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"

ROLE_LABELS = {"agent": "Agent", "customer": "Customer", "bot": "Bot"}
UNKNOWN_ROLE_LABEL = "Speaker"
DONE_STATUSES = frozenset({"done", "completed", "complete", "closed", "resolved", "finished"})
MISSING = "—"
NO_SUMMARY = "No summary yet."
NO_TRANSCRIPT = "No transcript yet."

# Text colours (RGB) shared by DOCX and PDF so both formats look alike.
INK = (33, 37, 41)
MUTED = (108, 117, 125)
ACCENT = (31, 78, 121)
LABEL_FILL = (234, 240, 247)
ROLE_COLOURS = {
    "agent": (31, 78, 121),  # blue
    "customer": (25, 115, 70),  # green
    "bot": (111, 66, 193),  # purple
}
UNKNOWN_ROLE_COLOUR = (90, 90, 90)

# Characters XML 1.0 forbids (python-docx refuses them) plus lone surrogates, which
# cannot be encoded at all. Transcripts from STT engines and connectors do contain them.
_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_LINE_SEPARATORS = re.compile("\r\n|[\r\u2028\u2029\x85]")

# fontTools (under fpdf2) logs every table it subsets at INFO: a flood per PDF
logging.getLogger("fontTools").setLevel(logging.WARNING)


# --------------------------------------------------------------------------- text helpers


def _clean(text: str | None) -> str:
    """Writable, NFC-normalised text with "\\n" line ends (composed accents render in
    fonts that lack combining marks)."""
    if not text:
        return ""
    text = _UNWRITABLE.sub("", _LINE_SEPARATORS.sub("\n", text))
    return unicodedata.normalize("NFC", text).replace("\t", "    ").strip()


def _one_line(text: str | None) -> str:
    return " ".join(_clean(text).split())


def _paragraphs(text: str | None) -> list[str]:
    """Paragraphs (split on blank lines), each keeping its single line breaks."""
    blocks = re.split(r"\n\s*\n", _clean(text))
    return [
        "\n".join(line.strip() for line in block.splitlines() if line.strip())
        for block in blocks
        if block.strip()
    ]


def _format_started(started_at: datetime | None) -> str:
    if started_at is None:
        return MISSING
    text = started_at.strftime("%Y-%m-%d %H:%M")
    offset = started_at.utcoffset()
    if offset is None:
        return text
    if offset == timedelta(0):
        return f"{text} UTC"
    return f"{text} {started_at.strftime('%z')[:3]}:{started_at.strftime('%z')[3:]}"


def _metadata_rows(doc: ExportDoc) -> list[tuple[str, str]]:
    def value(text: str | None) -> str:
        return _one_line(text) or MISSING

    duration = format_duration(doc.duration_s)
    direction = _one_line(doc.direction).capitalize() or MISSING
    status = _one_line(doc.status).replace("_", " ").capitalize() or MISSING
    return [
        ("Date", _format_started(doc.started_at)),
        ("Duration", duration),
        ("Direction", direction),
        ("Agent", value(doc.agent_name)),
        ("Customer", value(doc.customer_name)),
        ("Status", status),
    ]


def _role_key(turn: ExportTurn) -> str:
    role = turn.role.strip().lower()
    return role if role in ROLE_LABELS else "unknown"


def turn_label(turn: ExportTurn) -> str:
    """ "Agent", or "Agent (Anna Müller)" when the turn carries a speaker name."""
    label = ROLE_LABELS.get(_role_key(turn), UNKNOWN_ROLE_LABEL)
    speaker = _one_line(turn.speaker)
    if speaker and speaker.casefold() != label.casefold():
        return f"{label} ({speaker})"
    return label


def turn_timestamp(turn: ExportTurn) -> str:
    return f"[{format_offset_ms(turn.start_ms)}]"


def _is_done(item: ExportActionItem) -> bool:
    return item.status.strip().lower() in DONE_STATUSES


def _item_details(item: ExportActionItem) -> list[tuple[str, str]]:
    details = [("priority", _one_line(item.priority))]
    if _one_line(item.owner):
        details.append(("owner", _one_line(item.owner)))
    if _one_line(item.due):
        details.append(("due", _one_line(item.due)))
    return [(k, v) for k, v in details if v]


def _non_empty(items: Iterable[str]) -> list[str]:
    return [line for line in (_one_line(i) for i in items) if line]


def _sections(doc: ExportDoc) -> list[tuple[str, list[str]]]:
    result = []
    for section in doc.sections:
        heading = _one_line(section.heading)
        bullets = _non_empty(section.bullets)
        if heading or bullets:
            result.append((heading or "Notes", bullets))
    return result


# ------------------------------------------------------------------------------- markdown

# Escaped wherever they appear: they open emphasis, code, links, raw HTML, tables or
# strikethrough. Block markers ("#", ">", "-", "+", "=", "1.") only bite at line start.
_MD_INLINE = re.compile(r"([\\`*_\[\]<>|~#])")
_MD_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")
_MD_LINE_START = re.compile(r"^(\s*)([-+=>]|\d+(?=[.)]))")


def _md_escape_line(line: str) -> str:
    line = _MD_ENTITY.sub(r"\\&", _MD_INLINE.sub(r"\\\1", line))
    match = _MD_LINE_START.match(line)
    if match:
        marker = match.group(2)
        if marker.isdigit():  # "1. foo" -> "1\. foo"
            end = match.end()
            return line[:end] + "\\" + line[end:]
        return line[: match.start(2)] + "\\" + line[match.start(2) :]
    return line


def escape_markdown(text: str | None) -> str:
    """One line of user text made inert: it renders as itself, never as Markdown."""
    return _md_escape_line(_one_line(text))


def _md_block(text: str | None) -> list[str]:
    """User prose as Markdown paragraphs; single line breaks kept as hard breaks."""
    out: list[str] = []
    for paragraph in _paragraphs(text):
        lines = [_md_escape_line(" ".join(line.split())) for line in paragraph.split("\n")]
        out.append("  \n".join(lines))
        out.append("")
    return out


def render_markdown(doc: ExportDoc) -> str:
    md: list[str] = [f"# {escape_markdown(doc.title) or 'Call'}", ""]
    md += [f"- **{label}:** {escape_markdown(value)}" for label, value in _metadata_rows(doc)]
    md.append("")

    md += ["## Summary", ""]
    md += _md_block(doc.summary) or [f"_{NO_SUMMARY}_", ""]
    if _clean(doc.overview):
        md += ["## Overview", ""] + _md_block(doc.overview)

    if _one_line(doc.sentiment) or _one_line(doc.outcome):
        md += ["## Sentiment and outcome", ""]
        md.append(f"- **Sentiment:** {escape_markdown(doc.sentiment) or MISSING}")
        md.append(f"- **Outcome:** {escape_markdown(doc.outcome) or MISSING}")
        md.append("")

    for heading, bullets in _sections(doc):
        md += [f"## {_md_escape_line(heading)}", ""]
        md += [f"- {escape_markdown(b)}" for b in bullets] or ["_Nothing noted._"]
        md.append("")

    if doc.action_items:
        md += ["## Action items", ""]
        for item in doc.action_items:
            box = "[x]" if _is_done(item) else "[ ]"
            details = " · ".join(f"{k}: {escape_markdown(v)}" for k, v in _item_details(item))
            title = escape_markdown(item.title) or "(untitled)"
            md.append(f"- {box} {title}" + (f" — {details}" if details else ""))
        md.append("")

    notes = _non_empty(doc.notes)
    if notes:
        md += ["## Notes", ""] + [f"- {escape_markdown(n)}" for n in notes] + [""]

    tags = _non_empty(doc.tags)
    if tags:
        md += ["## Tags", "", ", ".join(escape_markdown(t) for t in tags), ""]

    md += ["## Transcript", ""]
    turns = [t for t in doc.turns if _one_line(t.text)]
    if not turns:
        md += [f"_{NO_TRANSCRIPT}_", ""]
    for turn in turns:
        label = escape_markdown(turn_label(turn))
        md += [f"**{turn_timestamp(turn)} {label}:** {escape_markdown(turn.text)}", ""]
    return "\n".join(md).rstrip("\n") + "\n"


# ----------------------------------------------------------------------------------- DOCX


def _docx_shade(cell: object, rgb: tuple[int, int, int]) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), "{:02X}{:02X}{:02X}".format(*rgb))
    cell._tc.get_or_add_tcPr().append(shd)  # type: ignore[attr-defined]


def _docx_field(paragraph: object, instruction: str) -> None:
    """A Word field (PAGE, NUMPAGES) that Word fills in when it lays the page out."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), instruction)
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "1"
    run.append(text)
    field.append(run)
    paragraph._p.append(field)  # type: ignore[attr-defined]


def render_docx(doc: ExportDoc) -> bytes:
    from docx import Document
    from docx.enum.style import WD_STYLE_TYPE
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt, RGBColor

    document = Document()
    title = _one_line(doc.title) or "Call"
    document.core_properties.title = title[:255]
    document.core_properties.subject = "Call minutes"
    # python-docx's template says "python-docx" otherwise (issue 18)
    author = (_one_line(doc.company_name) or "callscribe")[:255]
    document.core_properties.author = author
    document.core_properties.last_modified_by = author
    document.core_properties.comments = ""

    section = document.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)  # A4
    section.left_margin = section.right_margin = Cm(2)
    section.top_margin = section.bottom_margin = Cm(2)

    styles = document.styles
    normal = styles["Normal"]
    normal.font.name = "Calibri"
    normal.font.size = Pt(10.5)
    normal.font.color.rgb = RGBColor(*INK)
    normal.paragraph_format.space_after = Pt(4)
    for name, size in (("Title", 22), ("Heading 1", 14)):
        styles[name].font.name = "Calibri"
        styles[name].font.size = Pt(size)
        styles[name].font.color.rgb = RGBColor(*ACCENT)
    turn_style = styles.add_style("Transcript Turn", WD_STYLE_TYPE.PARAGRAPH)
    turn_style.base_style = normal
    turn_style.paragraph_format.space_after = Pt(3)
    turn_style.paragraph_format.left_indent = Cm(0.6)
    turn_style.paragraph_format.first_line_indent = Cm(-0.6)

    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    footer.add_run(f"{title[:80]} · Page ").font.size = Pt(8)
    _docx_field(footer, "PAGE")
    footer.add_run(" of ").font.size = Pt(8)
    _docx_field(footer, "NUMPAGES")

    document.add_heading(title, level=0)

    meta = document.add_table(rows=0, cols=2)
    meta.style = "Table Grid"
    meta.alignment = WD_TABLE_ALIGNMENT.LEFT
    for label, value in _metadata_rows(doc):
        label_cell, value_cell = meta.add_row().cells
        label_cell.width, value_cell.width = Cm(3.5), Cm(13.5)
        label_cell.paragraphs[0].add_run(label).bold = True
        _docx_shade(label_cell, LABEL_FILL)
        value_cell.paragraphs[0].add_run(value)

    def heading(text: str) -> None:
        document.add_heading(text, level=1)

    def prose(text: str | None, placeholder: str | None = None) -> None:
        paragraphs = _paragraphs(text)
        if not paragraphs and placeholder:
            run = document.add_paragraph().add_run(placeholder)
            run.italic = True
            run.font.color.rgb = RGBColor(*MUTED)
        for paragraph in paragraphs:
            document.add_paragraph(paragraph)  # "\n" becomes a line break

    def bullets(lines: list[str]) -> None:
        for line in lines:
            document.add_paragraph(line, style="List Bullet")

    heading("Summary")
    prose(doc.summary, NO_SUMMARY)
    if _clean(doc.overview):
        heading("Overview")
        prose(doc.overview)

    if _one_line(doc.sentiment) or _one_line(doc.outcome):
        heading("Sentiment and outcome")
        for name, verdict in (("Sentiment", doc.sentiment), ("Outcome", doc.outcome)):
            paragraph = document.add_paragraph()
            paragraph.add_run(f"{name}: ").bold = True
            paragraph.add_run(_one_line(verdict) or MISSING)

    for section_heading, section_bullets in _sections(doc):
        heading(section_heading)
        bullets(section_bullets)

    if doc.action_items:
        heading("Action items")
        table = document.add_table(rows=1, cols=5)
        table.style = "Light List Accent 1"
        widths = (Cm(1.0), Cm(8.5), Cm(2.2), Cm(3.0), Cm(2.3))
        for cell, text, width in zip(
            table.rows[0].cells,
            ("", "Action item", "Priority", "Owner", "Due"),
            widths,
            strict=True,
        ):
            cell.width = width
            cell.paragraphs[0].add_run(text).bold = True
        for item in doc.action_items:
            done = _is_done(item)
            values = (
                "☑" if done else "☐",
                _one_line(item.title) or "(untitled)",
                _one_line(item.priority) or MISSING,
                _one_line(item.owner) or MISSING,
                _one_line(item.due) or MISSING,
            )
            cells = table.add_row().cells
            for column, (cell, text, width) in enumerate(zip(cells, values, widths, strict=True)):
                cell.width = width
                run = cell.paragraphs[0].add_run(text)
                if done and column == 1:
                    run.font.color.rgb = RGBColor(*MUTED)
                    run.font.strike = True

    notes = _non_empty(doc.notes)
    if notes:
        heading("Notes")
        bullets(notes)

    tags = _non_empty(doc.tags)
    if tags:
        heading("Tags")
        document.add_paragraph(", ".join(tags))

    heading("Transcript")
    turns = [t for t in doc.turns if _one_line(t.text)]
    if not turns:
        prose(None, NO_TRANSCRIPT)
    muted = RGBColor(*MUTED)
    role_colours = {k: RGBColor(*v) for k, v in ROLE_COLOURS.items()}
    unknown_colour = RGBColor(*UNKNOWN_ROLE_COLOUR)
    for turn in turns:
        paragraph = document.add_paragraph(style=turn_style)
        stamp = paragraph.add_run(f"{turn_timestamp(turn)} ")
        stamp.font.color.rgb = muted
        role = paragraph.add_run(f"{turn_label(turn)}: ")
        role.bold = True
        role.font.color.rgb = role_colours.get(_role_key(turn), unknown_colour)
        paragraph.add_run(_one_line(turn.text))

    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


# ------------------------------------------------------------------------------------ PDF

PDF_FONT = "DejaVu"
# What stands in for a character the bundled font cannot draw (CJK, most emoji).
PDF_REPLACEMENT = "\ufffd"


@cache
def _pdf_charset() -> frozenset[int]:
    """Code points both bundled faces can draw."""
    from fontTools.ttLib import TTFont  # fpdf2 depends on fontTools

    maps = []
    for path in (PDF_FONT_REGULAR, PDF_FONT_BOLD):
        with TTFont(str(path), lazy=True) as font:
            maps.append(set(font.getBestCmap()))
    return frozenset(maps[0] & maps[1])


def _pdf_text(text: str) -> str:
    """Text the font can draw: missing glyphs become U+FFFD, invisible ones are dropped
    (variation selectors, zero-width joiners), so nothing fails or prints blank boxes."""
    if text.isascii():
        return text
    charset = _pdf_charset()
    out = []
    for char in text:
        if ord(char) in charset or char == "\n":
            out.append(char)
        elif unicodedata.category(char) in ("Mn", "Me", "Cf"):
            continue
        elif not out or out[-1] != PDF_REPLACEMENT:  # one mark per run of missing glyphs
            out.append(PDF_REPLACEMENT)
    return "".join(out)


def render_pdf(doc: ExportDoc) -> bytes:
    from fpdf import FPDF
    from fpdf.enums import TableBordersLayout, XPos
    from fpdf.fonts import FontFace

    title = _one_line(doc.title) or "Call"
    footer_text = _pdf_text(title if len(title) <= 70 else title[:69] + "…")

    class MinutesPDF(FPDF):
        def footer(self) -> None:
            self.set_y(-13)
            self.set_draw_color(210, 214, 220)
            self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
            self.set_font(PDF_FONT, "", 8)
            self.set_text_color(*MUTED)
            half = (self.w - self.l_margin - self.r_margin) / 2
            self.cell(half, 8, footer_text, align="L")
            self.cell(half, 8, f"Page {self.page_no()} of {{nb}}", align="R")

    pdf = MinutesPDF(format="A4", unit="mm")
    pdf.set_margins(18, 18, 18)
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_font(PDF_FONT, "", str(PDF_FONT_REGULAR))
    pdf.add_font(PDF_FONT, "B", str(PDF_FONT_BOLD))
    pdf.set_title(_pdf_text(title))
    pdf.set_subject("Call minutes")
    pdf.set_creator("callscribe")
    pdf.add_page()
    width = pdf.epw

    def font(size: float, bold: bool = False, colour: tuple[int, int, int] = INK) -> None:
        pdf.set_font(PDF_FONT, "B" if bold else "", size)
        pdf.set_text_color(*colour)

    def heading(text: str) -> None:
        if pdf.will_page_break(20):  # keep a heading with the lines that follow it
            pdf.add_page()
        pdf.ln(4)
        font(13, bold=True, colour=ACCENT)
        pdf.multi_cell(width, 7, _pdf_text(text), align="L", new_x=XPos.LMARGIN)
        pdf.set_draw_color(*ACCENT)
        pdf.set_line_width(0.3)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + width, pdf.get_y())
        pdf.ln(2.5)
        font(10)

    def prose(text: str | None, placeholder: str | None = None) -> None:
        paragraphs = _paragraphs(text)
        if not paragraphs and placeholder:
            font(10, colour=MUTED)
            pdf.multi_cell(width, 5.2, placeholder, align="L", new_x=XPos.LMARGIN)
            font(10)
        for paragraph in paragraphs:
            pdf.multi_cell(width, 5.2, _pdf_text(paragraph), align="L", new_x=XPos.LMARGIN)
            pdf.ln(1.5)

    def bullet_list(lines: list[str]) -> None:
        font(10)
        for line in lines:
            pdf.set_x(pdf.l_margin + 2)
            pdf.cell(4, 5.2, "•")
            pdf.multi_cell(width - 6, 5.2, _pdf_text(line), align="L", new_x=XPos.LMARGIN)
            pdf.ln(0.8)

    # Title and metadata table.
    font(19, bold=True, colour=ACCENT)
    pdf.multi_cell(width, 9, _pdf_text(title), align="L", new_x=XPos.LMARGIN)
    pdf.ln(3)
    font(9.5)
    pdf.set_draw_color(210, 214, 220)
    label_style = FontFace(emphasis="BOLD", fill_color=LABEL_FILL, color=INK)
    with pdf.table(
        col_widths=(32, width - 32),
        width=width,
        first_row_as_headings=False,
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        line_height=6,
        text_align="LEFT",
        padding=(1, 2),
    ) as table:
        for label, value in _metadata_rows(doc):
            row = table.row()
            row.cell(label, style=label_style)
            row.cell(_pdf_text(value))

    heading("Summary")
    prose(doc.summary, NO_SUMMARY)
    if _clean(doc.overview):
        heading("Overview")
        prose(doc.overview)

    if _one_line(doc.sentiment) or _one_line(doc.outcome):
        heading("Sentiment and outcome")
        for name, verdict in (("Sentiment", doc.sentiment), ("Outcome", doc.outcome)):
            font(10, bold=True)
            pdf.write(5.2, f"{name}: ")
            font(10)
            pdf.write(5.2, _pdf_text(_one_line(verdict) or MISSING))
            pdf.ln(6)

    for section_heading, section_bullets in _sections(doc):
        heading(section_heading)
        bullet_list(section_bullets)

    if doc.action_items:
        heading("Action items")
        font(9)
        pdf.set_draw_color(210, 214, 220)
        header_style = FontFace(emphasis="BOLD", fill_color=LABEL_FILL, color=ACCENT)
        done_style = FontFace(color=MUTED)
        with pdf.table(
            col_widths=(8, width - 8 - 22 - 34 - 24, 22, 34, 24),
            width=width,
            headings_style=header_style,
            borders_layout=TableBordersLayout.HORIZONTAL_LINES,
            line_height=5,
            text_align="LEFT",
            padding=(1, 1.5),
        ) as table:
            header = table.row()
            for text in ("", "Action item", "Priority", "Owner", "Due"):
                header.cell(text)
            for item in doc.action_items:
                done = _is_done(item)
                row = table.row(style=done_style if done else None)
                row.cell("☑" if done else "☐")
                row.cell(_pdf_text(_one_line(item.title) or "(untitled)"))
                row.cell(_pdf_text(_one_line(item.priority) or MISSING))
                row.cell(_pdf_text(_one_line(item.owner) or MISSING))
                row.cell(_pdf_text(_one_line(item.due) or MISSING))

    notes = _non_empty(doc.notes)
    if notes:
        heading("Notes")
        bullet_list(notes)

    tags = _non_empty(doc.tags)
    if tags:
        heading("Tags")
        prose(", ".join(tags))

    heading("Transcript")
    turns = [t for t in doc.turns if _one_line(t.text)]
    if not turns:
        prose(None, NO_TRANSCRIPT)
    for turn in turns:
        font(8.5, colour=MUTED)
        pdf.write(5, f"{turn_timestamp(turn)} ")
        font(9.5, bold=True, colour=ROLE_COLOURS.get(_role_key(turn), UNKNOWN_ROLE_COLOUR))
        pdf.write(5, _pdf_text(f"{turn_label(turn)}: "))
        font(9.5)
        pdf.write(5, _pdf_text(_one_line(turn.text)))
        pdf.ln(6.5)

    return bytes(pdf.output())


# -------------------------------------------------------------------------------- formats

Renderer = Callable[[ExportDoc], str | bytes]

EXPORT_FORMATS: dict[str, tuple[str, Renderer]] = {
    "md": ("text/markdown; charset=utf-8", render_markdown),
    "docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        render_docx,
    ),
    "pdf": ("application/pdf", render_pdf),
}

FILENAME_SLUG_MAX = 60  # characters of title kept in a file name


def _slug(text: str, max_len: int) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > max_len:
        cut = slug[:max_len]
        slug = cut.rsplit("-", 1)[0] if "-" in cut[max_len // 2 :] else cut
    return slug.strip("-")


def export_filename(doc: ExportDoc, fmt: str) -> str:
    """ "2026-11-21-refund-request-ab12cd34.pdf": date, title slug, short call id.
    Only [a-z0-9-] before the extension, so it is safe in any file system and in a
    Content-Disposition header without quoting tricks."""
    if fmt not in EXPORT_FORMATS:
        raise BadRequest(
            f"Unsupported export format {fmt!r}; choose one of: {', '.join(EXPORT_FORMATS)}.",
            code=ErrorCode.UNSUPPORTED_EXPORT_FORMAT,
        )
    short_id = re.sub(r"[^a-z0-9]", "", doc.call_id.lower())[:8]
    slug = _slug(doc.title, FILENAME_SLUG_MAX)
    parts = []
    if doc.started_at is not None:
        parts.append(doc.started_at.strftime("%Y-%m-%d"))
    if slug:
        parts.append(slug)
    if short_id and not slug.endswith(short_id):  # "Call ab12cd34" already names it
        parts.append(short_id)
    return f"{'-'.join(parts) or 'call'}.{fmt}"

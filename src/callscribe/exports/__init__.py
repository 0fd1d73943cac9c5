"""Exports: a call's Minutes and transcript as Markdown, DOCX or PDF."""

from callscribe.exports.schemas import ExportActionItem, ExportDoc, ExportSection, ExportTurn
from callscribe.exports.service import (
    EXPORT_FORMATS,
    export_filename,
    render_docx,
    render_markdown,
    render_pdf,
)

__all__ = [
    "EXPORT_FORMATS",
    "ExportActionItem",
    "ExportDoc",
    "ExportSection",
    "ExportTurn",
    "export_filename",
    "render_docx",
    "render_markdown",
    "render_pdf",
]

"""Shapes the exporters render. The caller (calls/minutes services) fills an ExportDoc;
the renderers never touch the database, so every format renders the same document."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ExportTurn(BaseModel):
    role: str  # agent | customer | bot | unknown
    speaker: str | None = None  # display name when known (diarised or the agent's name)
    start_ms: int
    end_ms: int
    text: str


class ExportSection(BaseModel):
    heading: str
    bullets: list[str] = Field(default_factory=list)


class ExportActionItem(BaseModel):
    title: str
    priority: str
    status: str  # "done"/"completed"/"closed" render as checked, anything else as open
    owner: str | None = None
    due: str | None = None


class ExportDoc(BaseModel):
    call_id: str
    company_name: str | None = None  # the documents' author (DOCX core properties)
    title: str  # the minutes subject, or "Call <short id>" when no minutes yet
    started_at: datetime | None = None
    duration_s: float | None = None
    direction: str | None = None
    agent_name: str | None = None
    customer_name: str | None = None
    status: str
    summary: str | None = None
    overview: str | None = None
    sentiment: str | None = None
    outcome: str | None = None
    sections: list[ExportSection] = Field(default_factory=list)
    action_items: list[ExportActionItem] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    turns: list[ExportTurn] = Field(default_factory=list)

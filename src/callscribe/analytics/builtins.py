"""The built-in visualizations and dashboards: read-only, in code; "Save as new" copies
one into the company's own. Keys are stable: they are in URLs, favorites and views."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class BuiltinVisualization:
    key: str
    name: str
    chart: str
    metrics: tuple[str, ...]
    group_by: tuple[str, ...] = ()
    filters: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BuiltinDashboard:
    key: str
    name: str
    description: str
    visualizations: tuple[str, ...]
    filters: dict[str, Any] = field(default_factory=dict)


VISUALIZATIONS: tuple[BuiltinVisualization, ...] = (
    BuiltinVisualization(
        "ov-volume", "Volume", "number", ("engagements", "conversations", "customers")
    ),
    BuiltinVisualization(
        "ov-times",
        "Handle times",
        "number",
        ("avg_handle_time_s", "avg_talk_time_s", "avg_hold_time_s", "avg_wait_time_s"),
    ),
    BuiltinVisualization(
        "ov-by-week", "Engagements by week", "line", ("engagements",), ("date:week",)
    ),
    BuiltinVisualization(
        "ov-by-channel", "Engagements by channel", "bar", ("engagements",), ("channel",)
    ),
    BuiltinVisualization(
        "ov-by-agent",
        "Engagements by agent",
        "bar",
        ("engagements", "avg_handle_time_s"),
        ("agent",),
    ),
    BuiltinVisualization("ov-outcomes", "Outcomes", "pie", ("engagements",), ("outcome",)),
    BuiltinVisualization(
        "ag-table",
        "Agents",
        "table",
        (
            "engagements",
            "avg_handle_time_s",
            "talk_ratio_agent",
            "silence_share",
            "first_contact_resolution",
            "revenue",
        ),
        ("agent",),
    ),
    BuiltinVisualization(
        "ag-talk", "Talk ratio by agent", "bar", ("talk_ratio_agent",), ("agent",)
    ),
    BuiltinVisualization(
        "qa-sentiment-agent",
        "Sentiment by agent",
        "bar",
        ("sentiment_positive_share", "sentiment_negative_share"),
        ("agent",),
    ),
    BuiltinVisualization(
        "qa-resolved-week", "Resolved rate by week", "line", ("resolved_rate",), ("date:week",)
    ),
    BuiltinVisualization(
        "qa-coverage",
        "Reviews",
        "number",
        ("review_coverage", "avg_qa_score", "ai_flagged_share"),
    ),
    BuiltinVisualization(
        "qa-coverage-agent",
        "Review coverage and QA score by agent",
        "table",
        ("engagements", "review_coverage", "avg_qa_score", "ai_flagged_share"),
        ("agent",),
    ),
    BuiltinVisualization(
        "qa-score-week", "Average QA score by week", "line", ("avg_qa_score",), ("date:week",)
    ),
    BuiltinVisualization(
        "cx-sentiment",
        "Sentiment",
        "number",
        (
            "sentiment_positive_share",
            "sentiment_neutral_share",
            "sentiment_negative_share",
            "sentiment_mixed_share",
        ),
    ),
    BuiltinVisualization(
        "cx-sentiment-week",
        "Sentiment by week",
        "line",
        ("sentiment_positive_share", "sentiment_negative_share"),
        ("date:week",),
    ),
    BuiltinVisualization(
        "cx-repeat",
        "First-contact resolution and repeat contacts by channel",
        "bar",
        ("first_contact_resolution", "repeat_contact_rate"),
        ("channel",),
    ),
    BuiltinVisualization("cx-outcomes", "Outcomes", "table", ("engagements",), ("outcome",)),
    BuiltinVisualization("tp-queue", "Engagements by queue", "bar", ("engagements",), ("queue",)),
    BuiltinVisualization(
        "tp-department",
        "Engagements by engaged department",
        "table",
        ("engagements", "avg_handle_time_s"),
        ("engaged_department",),
    ),
    BuiltinVisualization(
        "tp-flagged-queue",
        "AI-flagged share by queue",
        "bar",
        ("ai_flagged_share",),
        ("queue",),
    ),
)
VISUALIZATION_BY_KEY = {v.key: v for v in VISUALIZATIONS}

DASHBOARDS: tuple[BuiltinDashboard, ...] = (
    BuiltinDashboard(
        "overview",
        "Overview",
        "Volume, handle times, trend, channels, agents and outcomes.",
        ("ov-volume", "ov-times", "ov-by-week", "ov-by-channel", "ov-by-agent", "ov-outcomes"),
    ),
    BuiltinDashboard("agents", "Agents", "Each agent's numbers.", ("ag-table", "ag-talk")),
    BuiltinDashboard(
        "quality",
        "Quality & reviews",
        "Review coverage, QA scores and AI flags; sentiment and resolution per agent and week.",
        (
            "qa-coverage",
            "qa-coverage-agent",
            "qa-score-week",
            "qa-sentiment-agent",
            "qa-resolved-week",
        ),
    ),
    BuiltinDashboard(
        "customer-experience",
        "Customer experience",
        "Sentiment, outcomes and repeat contacts.",
        ("cx-sentiment", "cx-sentiment-week", "cx-repeat", "cx-outcomes"),
    ),
    BuiltinDashboard(
        "topics",
        "Topics & tags",
        "Where engagements go (queues, departments) and how often the AI flags them.",
        ("tp-queue", "tp-department", "tp-flagged-queue"),
    ),
)
DASHBOARD_BY_KEY = {d.key: d for d in DASHBOARDS}

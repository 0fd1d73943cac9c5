"""Request and response shapes of the analytics API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from callscribe.kit.schemas import OutModel

Name = Field(min_length=1, max_length=100)


class MetricOut(OutModel):
    name: str
    label: str
    unit: str
    builtin: bool
    expression: str | None


class MetricList(BaseModel):
    items: list[MetricOut]


class MetricIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "sale_share",
                    "label": "Sale share",
                    "expression": 'COUNT(engagement WHERE outcome = "sale") / COUNT(engagement)',
                }
            ]
        }
    )
    name: str = Field(min_length=1, max_length=60)
    label: str = Name
    expression: str = Field(min_length=1, max_length=10_000_000)
    description: str = Field("", max_length=2000)
    unit: str = Field("number", max_length=40)


class QueryIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "metrics": ["engagements", "avg_handle_time_s"],
                    "group_by": ["agent", "date:week"],
                    "filter": {"channel": "voice"},
                }
            ]
        }
    )
    metrics: list[str] = Field(min_length=1, max_length=40)
    group_by: list[str] = Field(default_factory=list, max_length=3)
    filter: dict[str, Any] = Field(default_factory=dict)


class QueryOut(BaseModel):
    columns: list[str]
    rows: list[list[Any]]


class VisualizationIn(BaseModel):
    name: str = Name
    chart: str = "table"
    metrics: list[str] = Field(min_length=1, max_length=40)
    group_by: list[str] = Field(default_factory=list, max_length=3)
    filters: dict[str, Any] = Field(default_factory=dict)


class VisualizationOut(OutModel):
    id: str
    name: str
    chart: str
    metrics: list[str]
    group_by: list[str]
    filters: dict[str, Any]
    builtin: bool
    favorite: bool


class VisualizationList(BaseModel):
    items: list[VisualizationOut]


class CopyIn(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=100)


class FilterIn(BaseModel):
    filter: dict[str, Any] = Field(default_factory=dict)


class TileOut(BaseModel):
    visualization: VisualizationOut
    columns: list[str]
    rows: list[list[Any]]
    keys: list[dict[str, Any]] = Field(description="Per row: the group values to drill into")


class DashboardItem(BaseModel):
    visualization: str = Field(min_length=1, max_length=60)
    x: int = Field(0, ge=0, le=100)
    y: int = Field(0, ge=0, le=1000)
    w: int = Field(6, ge=1, le=12)
    h: int = Field(4, ge=1, le=20)


class DashboardIn(BaseModel):
    name: str = Name
    items: list[DashboardItem] = Field(default_factory=list, max_length=40)
    filters: dict[str, Any] = Field(default_factory=dict)
    # never answered back (hidden); left out of an edit, the dashboard keeps its own
    hidden_filters: dict[str, Any] | None = None
    locked_filters: dict[str, Any] = Field(default_factory=dict)


class DashboardOut(OutModel):
    id: str
    name: str
    description: str
    builtin: bool
    items: list[dict[str, Any]]
    filters: dict[str, Any]
    locked_filters: dict[str, Any]


class DashboardList(BaseModel):
    items: list[DashboardOut]


class DashboardData(BaseModel):
    dashboard: DashboardOut
    filter: dict[str, Any] = Field(description="The filter applied (hidden filters left out)")
    tiles: list[TileOut]


class ViewIn(BaseModel):
    dashboard: str = Field(min_length=1, max_length=60)
    name: str = Name
    filters: dict[str, Any] = Field(default_factory=dict)
    is_default: bool = False


class ViewOut(OutModel):
    id: uuid.UUID
    dashboard: str
    name: str
    filters: dict[str, Any]
    is_default: bool
    created_at: datetime


class ViewList(BaseModel):
    items: list[ViewOut]


class EngagementsIn(BaseModel):
    filter: dict[str, Any] = Field(default_factory=dict)
    segment: dict[str, Any] = Field(default_factory=dict, description="group name -> key")


class EngagementOut(OutModel):
    id: uuid.UUID
    started_at: datetime | None
    channel: str
    direction: str | None
    agent_id: uuid.UUID | None
    agent_name: str | None
    customer_id: uuid.UUID | None
    outcome: str | None
    duration_s: float | None
    url: str


class EngagementList(BaseModel):
    items: list[EngagementOut]


class SelectionIn(EngagementsIn):
    name: str = Name


class SelectionOut(OutModel):
    id: uuid.UUID
    name: str
    engagement_ids: list[str]
    filters: dict[str, Any]
    created_at: datetime


class SelectionList(BaseModel):
    items: list[SelectionOut]


class AskIn(BaseModel):
    engagement_ids: list[uuid.UUID] = Field(min_length=1, max_length=200)
    prompt: str = Field(min_length=1, max_length=2000)

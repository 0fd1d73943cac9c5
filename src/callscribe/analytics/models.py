"""Analytics tables: custom metrics, visualizations and dashboards of a company, each
user's saved views and favorites, and selections of engagements. Built-in metrics,
visualizations and dashboards are code (metrics.py, builtins.py), not rows."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from callscribe.db import Base, JSONType, UTCDateTime, new_id, utcnow


class ChartType:
    TABLE = "table"
    BAR = "bar"
    LINE = "line"
    PIE = "pie"
    NUMBER = "number"
    ALL = ("table", "bar", "line", "pie", "number")


class CustomMetric(Base):
    __tablename__ = "analytics_metrics"
    __table_args__ = (UniqueConstraint("company_id", "name", name="uq_analytics_metrics_name"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(60))
    label: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    unit: Mapped[str] = mapped_column(String(20), default="number")
    expression: Mapped[str] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Visualization(Base):
    """Metrics x group-by attributes x chart type x its own filters (a Shared one)."""

    __tablename__ = "analytics_visualizations"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    chart: Mapped[str] = mapped_column(String(10), default=ChartType.TABLE)
    metrics: Mapped[list[str]] = mapped_column(JSONType, default=list)
    group_by: Mapped[list[str]] = mapped_column(JSONType, default=list)
    filters: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Dashboard(Base):
    """Visualizations on a grid, with default, hidden and locked filters."""

    __tablename__ = "analytics_dashboards"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    # [{"visualization": id, "x", "y", "w", "h"}]
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    filters: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # the defaults
    hidden_filters: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    locked_filters: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SavedView(Base):
    """One user's filters for one dashboard; never shown to anyone else."""

    __tablename__ = "analytics_saved_views"
    __table_args__ = (Index("ix_analytics_saved_views_user_dashboard", "user_id", "dashboard"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    dashboard: Mapped[str] = mapped_column(String(60))  # a built-in's key or a dashboard id
    name: Mapped[str] = mapped_column(String(100))
    filters: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Favorite(Base):
    __tablename__ = "analytics_favorites"
    __table_args__ = (
        UniqueConstraint("user_id", "visualization", name="uq_analytics_favorites_user_vis"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    visualization: Mapped[str] = mapped_column(String(60))  # a built-in's key or an id


class Selection(Base):
    """Engagements saved as a list at one moment (training, testing auto reviews,
    sampling): the ids as they were, and the filter that found them."""

    __tablename__ = "analytics_selections"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    engagement_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    filters: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

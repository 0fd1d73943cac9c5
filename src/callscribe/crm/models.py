from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from callscribe.db import Base, JSONType, UTCDateTime, new_id, utcnow


class Customer(Base):
    """The other party of a conversation. PII: masked in analytics, shown with permission."""

    __tablename__ = "customers"
    __table_args__ = (Index("ix_customers_company_pid", "company_id", "pid", unique=True),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    pid: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # UUIDv5(company, source, external id)
    name: Mapped[str | None] = mapped_column(String(200))
    phones: Mapped[list[str]] = mapped_column(JSONType, default=list)
    emails: Mapped[list[str]] = mapped_column(JSONType, default=list)
    company_name: Mapped[str | None] = mapped_column(String(200))
    stage: Mapped[str | None] = mapped_column(String(100))
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CustomerIdentity(Base):
    """A normalised phone (E.164) or email of a customer, indexed for duplicate detection
    and for linking calls to customers by phone."""

    __tablename__ = "customer_identities"
    __table_args__ = (Index("ix_customer_identities_lookup", "company_id", "kind", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE")
    )
    customer_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))  # phone | email
    value: Mapped[str] = mapped_column(String(320))


class CrmObjectLink(Base):
    """An object in a connected CRM (connection, type, id) that belongs to a customer."""

    __tablename__ = "crm_object_links"
    __table_args__ = (
        UniqueConstraint(
            "company_id", "connection_id", "object_type", "object_id", name="uq_crm_object"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    connection_id: Mapped[str] = mapped_column(String(100))
    object_type: Mapped[str] = mapped_column(String(60))
    object_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EngagementLink(Base):
    """A call's link to a customer / CRM object: `definite` (the caller named an existing
    CRM object) or `suggested` (matched by phone or name, for a person to confirm)."""

    __tablename__ = "engagement_links"
    __table_args__ = (Index("ix_engagement_links_engagement", "engagement_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    engagement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("engagements.id", ondelete="CASCADE")
    )
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    crm_object_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("crm_object_links.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(10))  # definite | suggested | confirmed
    reason: Mapped[str | None] = mapped_column(String(40))  # crm_object | phone | name
    score: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PipelineStage(Base):
    """The company's configurable customer pipeline, in order."""

    __tablename__ = "pipeline_stages"
    __table_args__ = (UniqueConstraint("company_id", "name", name="uq_pipeline_stage"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)


class CustomFieldDef(Base):
    """A typed custom field customers may carry: text, number, date or choice."""

    __tablename__ = "custom_field_defs"
    __table_args__ = (UniqueConstraint("company_id", "key", name="uq_custom_field_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(60))
    label: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(10))  # text | number | date | choice
    choices: Mapped[list[str] | None] = mapped_column(JSONType)


class Service(Base):
    """Something the company sells or provides (a plan, a product, a support tier);
    transactions and engagements may name one."""

    __tablename__ = "services"
    __table_args__ = (UniqueConstraint("company_id", "pid", name="uq_services_pid"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    pid: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    source: Mapped[str] = mapped_column(String(40), default="manual")
    external_id: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(100))
    category: Mapped[str | None] = mapped_column(String(100))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Transaction(Base):
    """Money that moved: a sale, a refund, a renewal; revenue and cost are facts
    (numbers in the company's currency), the rest attributes."""

    __tablename__ = "transactions"
    __table_args__ = (
        UniqueConstraint("company_id", "pid", name="uq_transactions_pid"),
        Index("ix_transactions_company_occurred", "company_id", "occurred_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    pid: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    source: Mapped[str] = mapped_column(String(40), default="manual")
    external_id: Mapped[str | None] = mapped_column(String(100))
    engagement_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("engagements.id", ondelete="SET NULL"), index=True
    )
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("customers.id", ondelete="SET NULL")
    )
    agent_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("agents.id", ondelete="SET NULL")
    )
    service_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("services.id", ondelete="SET NULL")
    )
    kind: Mapped[str | None] = mapped_column(String(100))  # sale, refund, renewal...
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revenue: Mapped[float | None] = mapped_column(Float)
    cost: Mapped[float | None] = mapped_column(Float)
    currency: Mapped[str | None] = mapped_column(String(3))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    facts: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

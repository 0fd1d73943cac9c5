"""conversations made real: PID, kind, customer, source, started_at, last_at, direction
and channel set; the company's conversation window; existing engagements backfilled into
conversations (same customer and source within the window: one conversation; an
engagement without a customer: its own)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 12:00:00
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

import callscribe.db

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# copies of callscribe.ingest.request.PID_NAMESPACE / pid_for and of the window rule in
# calls.service.assign_conversation: a migration must not change when the code does
PID_NAMESPACE = uuid.UUID("5d0c3f0e-7a8b-5c1e-9f4a-2b6d8e1c0a37")
DEFAULT_WINDOW_MIN = 30


def _conversation_pid(company_id: uuid.UUID, source: str, engagement_pid: uuid.UUID) -> uuid.UUID:
    key = "\x1f".join((str(company_id), source, "conversation", str(engagement_pid)))
    return uuid.uuid5(PID_NAMESPACE, key)


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite hands back text
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pid", sa.Uuid(), nullable=True))
        batch_op.add_column(
            sa.Column("kind", sa.String(length=10), server_default="window", nullable=False)
        )
        batch_op.add_column(sa.Column("customer_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("source", sa.String(length=40), nullable=True))
        batch_op.add_column(
            sa.Column("started_at", callscribe.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("last_at", callscribe.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("direction", sa.String(length=10), nullable=True))
        batch_op.add_column(
            sa.Column(
                "channels", callscribe.db.JSONType, server_default=sa.text("'[]'"), nullable=False
            )
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_conversations_customer_id_customers"),
            "customers",
            ["customer_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_unique_constraint("uq_conversations_pid", ["company_id", "pid"])
        batch_op.create_index(
            "ix_conversations_customer_started",
            ["company_id", "customer_id", "started_at"],
            unique=False,
        )
    with op.batch_alter_table("engagements", schema=None) as batch_op:
        batch_op.create_index("ix_engagements_conversation", ["conversation_id"], unique=False)
    with op.batch_alter_table("company_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("conversation_window_min", sa.Integer(), server_default="30", nullable=False)
        )
    # last: on SQLite a batch operation on `conversations` after this would recreate the
    # table, and its engagements' ON DELETE SET NULL would undo the backfill
    _backfill()


def _backfill() -> None:
    bind = op.get_bind()
    conversations = sa.table(
        "conversations",
        sa.column("id", sa.Uuid()),
        sa.column("company_id", sa.Uuid()),
        sa.column("pid", sa.Uuid()),
        sa.column("kind", sa.String()),
        sa.column("external_id", sa.String()),
        sa.column("customer_id", sa.Uuid()),
        sa.column("source", sa.String()),
        sa.column("started_at", callscribe.db.UTCDateTime(timezone=True)),
        sa.column("last_at", callscribe.db.UTCDateTime(timezone=True)),
        sa.column("direction", sa.String()),
        sa.column("channels", callscribe.db.JSONType),
        sa.column("created_at", callscribe.db.UTCDateTime(timezone=True)),
    )
    engagements = sa.table(
        "engagements",
        sa.column("id", sa.Uuid()),
        sa.column("company_id", sa.Uuid()),
        sa.column("conversation_id", sa.Uuid()),
        sa.column("customer_id", sa.Uuid()),
        sa.column("source", sa.String()),
        sa.column("channel", sa.String()),
        sa.column("direction", sa.String()),
        sa.column("pid", sa.Uuid()),
        sa.column("started_at", callscribe.db.UTCDateTime(timezone=True)),
        sa.column("created_at", callscribe.db.UTCDateTime(timezone=True)),
        sa.column("duration_s", sa.Float()),
    )
    # conversations made before (none were: the table was unused) keep their engagements
    bind.execute(conversations.update().values(kind="explicit"))
    rows = bind.execute(sa.select(engagements).where(engagements.c.conversation_id.is_(None))).all()
    window = timedelta(minutes=DEFAULT_WINDOW_MIN)

    def when(row: Any) -> datetime:
        return _aware(row.started_at) or _aware(row.created_at) or datetime.now(UTC)

    ordered = sorted(
        rows, key=lambda r: (str(r.company_id), str(r.customer_id), r.source or "", when(r))
    )
    now = datetime.now(UTC)
    open_group: dict[str, Any] | None = None
    for row in ordered:
        start = when(row)
        end = start + timedelta(seconds=row.duration_s or 0)
        group = open_group
        if (
            group is None
            or row.customer_id is None
            or group["key"] != (row.company_id, row.customer_id, row.source)
            or start > group["last_at"] + window
        ):
            if group is not None:
                _write(bind, conversations, engagements, group, now)
            pid = (
                _conversation_pid(row.company_id, row.source or "", row.pid)
                if row.pid is not None
                else None
            )
            group = open_group = {
                "key": (row.company_id, row.customer_id, row.source),
                "row": row,
                "pid": pid,
                "started_at": start,
                "last_at": end,
                "channels": {row.channel},
                "ids": [row.id],
            }
            if row.customer_id is None:  # never grouped: written at once
                _write(bind, conversations, engagements, group, now)
                open_group = None
            continue
        group["last_at"] = max(group["last_at"], end)
        group["channels"].add(row.channel)
        group["ids"].append(row.id)
    if open_group is not None:
        _write(bind, conversations, engagements, open_group, now)


def _write(
    bind: Any, conversations: Any, engagements: Any, group: dict[str, Any], now: Any
) -> None:
    first = group["row"]
    conversation_id = uuid.uuid4()
    bind.execute(
        conversations.insert().values(
            id=conversation_id,
            company_id=first.company_id,
            pid=group["pid"],
            kind="window",
            external_id=None,
            customer_id=first.customer_id,
            source=first.source,
            started_at=group["started_at"],
            last_at=group["last_at"],
            direction=first.direction,
            channels=sorted(c for c in group["channels"] if c),
            created_at=now,
        )
    )
    bind.execute(
        engagements.update()
        .where(engagements.c.id.in_(group["ids"]))
        .values(conversation_id=conversation_id)
    )


def downgrade() -> None:
    bind = op.get_bind()
    bind.execute(sa.text("UPDATE engagements SET conversation_id = NULL"))
    bind.execute(sa.text("DELETE FROM conversations"))
    with op.batch_alter_table("company_settings", schema=None) as batch_op:
        batch_op.drop_column("conversation_window_min")
    with op.batch_alter_table("engagements", schema=None) as batch_op:
        batch_op.drop_index("ix_engagements_conversation")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index("ix_conversations_customer_started")
        batch_op.drop_constraint("uq_conversations_pid", type_="unique")
        batch_op.drop_constraint(
            batch_op.f("fk_conversations_customer_id_customers"), type_="foreignkey"
        )
        for column in (
            "channels",
            "direction",
            "last_at",
            "started_at",
            "source",
            "customer_id",
            "kind",
            "pid",
        ):
            batch_op.drop_column(column)

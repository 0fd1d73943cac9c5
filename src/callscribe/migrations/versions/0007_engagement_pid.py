"""engagement PID: UUIDv5 of (company, source, data set, external id), unique per company,
backfilled for the engagements that have an external id; it replaces the unique
(company, source, external id), which would refuse the same id in another data set

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 09:00:00.000000
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# a copy of callscribe.ingest.request.PID_NAMESPACE and pid_for: a migration must not
# change when the code does
PID_NAMESPACE = uuid.UUID("5d0c3f0e-7a8b-5c1e-9f4a-2b6d8e1c0a37")


def _pid(company_id: uuid.UUID, source: str, external_id: str) -> uuid.UUID:
    return uuid.uuid5(PID_NAMESPACE, "\x1f".join((str(company_id), source, "", external_id)))


def upgrade() -> None:
    with op.batch_alter_table("engagements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pid", sa.Uuid(), nullable=True))
    engagements = sa.table(
        "engagements",
        sa.column("id", sa.Uuid()),
        sa.column("company_id", sa.Uuid()),
        sa.column("source", sa.String()),
        sa.column("external_id", sa.String()),
        sa.column("pid", sa.Uuid()),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(
            engagements.c.id,
            engagements.c.company_id,
            engagements.c.source,
            engagements.c.external_id,
        ).where(engagements.c.external_id.is_not(None))
    ).all()
    for row in rows:
        bind.execute(
            engagements.update()
            .where(engagements.c.id == row.id)
            .values(pid=_pid(row.company_id, row.source, row.external_id))
        )
    with op.batch_alter_table("engagements", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_engagements_pid", ["company_id", "pid"])
        batch_op.drop_constraint("uq_engagements_external", type_="unique")


def downgrade() -> None:
    with op.batch_alter_table("engagements", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            "uq_engagements_external", ["company_id", "source", "external_id"]
        )
        batch_op.drop_constraint("uq_engagements_pid", type_="unique")
        batch_op.drop_column("pid")

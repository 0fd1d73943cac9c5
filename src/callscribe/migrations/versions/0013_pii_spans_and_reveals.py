"""turns.pii_spans (the PII found in each turn) and pii_reveals (the reveal audit log)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 12:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import callscribe.db

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("turns", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "pii_spans",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
                nullable=True,
            )
        )
    op.create_table(
        "pii_reveals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("api_key_id", sa.Uuid(), nullable=True),
        sa.Column("oauth_app_id", sa.Uuid(), nullable=True),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("engagement_id", sa.Uuid(), nullable=False),
        sa.Column("turn_id", sa.Integer(), nullable=True),
        sa.Column("created_at", callscribe.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_pii_reveals_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pii_reveals")),
    )
    op.create_index(
        "ix_pii_reveals_company_at", "pii_reveals", ["company_id", "created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_pii_reveals_company_at", table_name="pii_reveals")
    op.drop_table("pii_reveals")
    with op.batch_alter_table("turns", schema=None) as batch_op:
        batch_op.drop_column("pii_spans")

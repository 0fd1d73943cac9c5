"""issue 12: a person's review of a turn survives the call being transcribed again —
reviews.turn_id is SET NULL when the turn goes (was CASCADE), and `anchor` keeps where
the turn was (role, seq, times) so the review is put back on the new turn there;
and the optional LLM judge of a tag's auto review (tag switch, the judge's cross-validated
precision/recall per model version, its verdict on each AI review); and the lease a tus
PATCH holds on its upload, so that two web processes never write one upload at once

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 18:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text  # noqa: F401  (autogenerate renders JSONB(astext_type=Text()))
from sqlalchemy.dialects import postgresql

import callscribe.db

revision: str = "0020"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FK = "fk_reviews_turn_id_turns"


def upgrade() -> None:
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "anchor",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column(
                "judge",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.drop_constraint(FK, type_="foreignkey")
        batch_op.create_foreign_key(FK, "turns", ["turn_id"], ["id"], ondelete="SET NULL")
    with op.batch_alter_table("review_tags", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("llm_judge", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("review_auto_models", schema=None) as batch_op:
        batch_op.add_column(sa.Column("judge_precision", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("judge_recall", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("judge_model", sa.String(length=200), nullable=True))
    with op.batch_alter_table("tus_uploads", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("patch_lease_at", callscribe.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("patch_lease_owner", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tus_uploads", schema=None) as batch_op:
        batch_op.drop_column("patch_lease_owner")
        batch_op.drop_column("patch_lease_at")
    with op.batch_alter_table("review_auto_models", schema=None) as batch_op:
        batch_op.drop_column("judge_model")
        batch_op.drop_column("judge_recall")
        batch_op.drop_column("judge_precision")
    with op.batch_alter_table("review_tags", schema=None) as batch_op:
        batch_op.drop_column("llm_judge")
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_column("judge")
        batch_op.drop_constraint(FK, type_="foreignkey")
        batch_op.create_foreign_key(FK, "turns", ["turn_id"], ["id"], ondelete="CASCADE")
        batch_op.drop_column("anchor")

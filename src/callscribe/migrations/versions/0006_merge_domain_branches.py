"""merge domain branches: delivery (0002), connectors (0003), ingest/crm (0004) and user
sessions (0005) were built side by side from 0001; one head from here on.

Revision ID: 0006
Revises: 0002, 0003, 0004, 0005
Create Date: 2026-11-21 08:29:54.381743
"""

from collections.abc import Sequence

revision: str = "0006"
down_revision: str | Sequence[str] | None = ("0002", "0003", "0004", "0005")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

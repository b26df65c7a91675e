"""user timezone and locale

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as users:
        users.add_column(
            sa.Column("timezone", sa.String(length=64), nullable=False, server_default="UTC")
        )
        users.add_column(
            sa.Column("locale", sa.String(length=35), nullable=False, server_default="en-US")
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as users:
        users.drop_column("locale")
        users.drop_column("timezone")

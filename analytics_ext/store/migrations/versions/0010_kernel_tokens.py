"""kernel tokens

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from analytics_ext.store.types import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kernel_tokens",
        sa.Column("id", sa.String(length=22), nullable=False),
        sa.Column("user_id", sa.String(length=22), nullable=False),
        sa.Column("kernel_id", sa.String(length=64), nullable=False),
        sa.Column("lookup", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=80), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_kernel_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kernel_tokens")),
        sa.UniqueConstraint("lookup", name=op.f("uq_kernel_tokens_lookup")),
    )
    op.create_index(op.f("ix_kernel_tokens_kernel_id"), "kernel_tokens", ["kernel_id"])
    op.create_index(op.f("ix_kernel_tokens_user_id"), "kernel_tokens", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_kernel_tokens_user_id"), table_name="kernel_tokens")
    op.drop_index(op.f("ix_kernel_tokens_kernel_id"), table_name="kernel_tokens")
    op.drop_table("kernel_tokens")

"""datasources and the grants of the sharing service

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from analytics_ext.store.types import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "datasources",
        sa.Column("id", sa.String(length=22), nullable=False),
        sa.Column("owner_id", sa.String(length=22), nullable=True),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("dialect", sa.String(length=32), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("secrets", sa.Text(), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_datasources_owner_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datasources")),
        sa.UniqueConstraint("owner_id", "name", name=op.f("uq_datasources_owner_id")),
    )
    op.create_index(op.f("ix_datasources_owner_id"), "datasources", ["owner_id"])

    op.create_table(
        "object_grants",
        sa.Column("id", sa.String(length=22), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.String(length=22), nullable=False),
        sa.Column("principal_type", sa.String(length=16), nullable=False),
        sa.Column("principal_id", sa.String(length=64), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("granted_by", sa.String(length=22), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["granted_by"],
            ["users.id"],
            name=op.f("fk_object_grants_granted_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_object_grants")),
        sa.UniqueConstraint(
            "object_type",
            "object_id",
            "principal_type",
            "principal_id",
            name=op.f("uq_object_grants_object_type"),
        ),
    )
    op.create_index(
        "ix_object_grants_principal",
        "object_grants",
        ["principal_type", "principal_id", "object_type"],
    )


def downgrade() -> None:
    op.drop_index("ix_object_grants_principal", table_name="object_grants")
    op.drop_table("object_grants")
    op.drop_index(op.f("ix_datasources_owner_id"), table_name="datasources")
    op.drop_table("datasources")

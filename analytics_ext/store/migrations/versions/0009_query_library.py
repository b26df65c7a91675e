"""saved queries, versions, favorites, templates, charts, chart templates; share links

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from analytics_ext.store.types import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chart_templates",
        sa.Column("id", sa.String(length=22), nullable=False),
        sa.Column("owner_id", sa.String(length=22), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("customization", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_chart_templates_owner_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chart_templates")),
    )
    op.create_index(
        op.f("ix_chart_templates_owner_id"), "chart_templates", ["owner_id"], unique=False
    )
    op.create_table(
        "favorites",
        sa.Column("id", sa.String(length=22), nullable=False),
        sa.Column("user_id", sa.String(length=22), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.String(length=22), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_favorites_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_favorites")),
        sa.UniqueConstraint(
            "user_id", "object_type", "object_id", name=op.f("uq_favorites_user_id")
        ),
    )
    op.create_index(
        "ix_favorites_user_position", "favorites", ["user_id", "position"], unique=False
    )
    op.create_table(
        "query_templates",
        sa.Column("id", sa.String(length=22), nullable=False),
        sa.Column("owner_id", sa.String(length=22), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_query_templates_owner_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_query_templates")),
    )
    op.create_index(
        op.f("ix_query_templates_owner_id"), "query_templates", ["owner_id"], unique=False
    )
    op.create_table(
        "saved_queries",
        sa.Column("id", sa.String(length=22), nullable=False),
        sa.Column("owner_id", sa.String(length=22), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("datasource_id", sa.String(length=22), nullable=True),
        sa.Column("sql", sa.Text(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["datasource_id"],
            ["datasources.id"],
            name=op.f("fk_saved_queries_datasource_id_datasources"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_saved_queries_owner_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_queries")),
    )
    op.create_index(
        op.f("ix_saved_queries_datasource_id"), "saved_queries", ["datasource_id"], unique=False
    )
    op.create_index(op.f("ix_saved_queries_owner_id"), "saved_queries", ["owner_id"], unique=False)
    op.create_table(
        "charts",
        sa.Column("id", sa.String(length=22), nullable=False),
        sa.Column("owner_id", sa.String(length=22), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("query_id", sa.String(length=22), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("customization", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_charts_owner_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["query_id"],
            ["saved_queries.id"],
            name=op.f("fk_charts_query_id_saved_queries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charts")),
    )
    op.create_index(op.f("ix_charts_owner_id"), "charts", ["owner_id"], unique=False)
    op.create_index(op.f("ix_charts_query_id"), "charts", ["query_id"], unique=False)
    op.create_table(
        "saved_query_versions",
        sa.Column("id", sa.String(length=22), nullable=False),
        sa.Column("query_id", sa.String(length=22), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("datasource_id", sa.String(length=22), nullable=True),
        sa.Column("sql", sa.Text(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("author_id", sa.String(length=22), nullable=True),
        sa.Column("restored_from", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_saved_query_versions_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["query_id"],
            ["saved_queries.id"],
            name=op.f("fk_saved_query_versions_query_id_saved_queries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_query_versions")),
        sa.UniqueConstraint("query_id", "version", name=op.f("uq_saved_query_versions_query_id")),
    )
    op.add_column("object_grants", sa.Column("secret_hash", sa.String(length=80), nullable=True))
    op.add_column("object_grants", sa.Column("expires_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("object_grants") as batch:
        batch.drop_column("expires_at")
        batch.drop_column("secret_hash")
    op.drop_table("saved_query_versions")
    op.drop_index(op.f("ix_charts_query_id"), table_name="charts")
    op.drop_index(op.f("ix_charts_owner_id"), table_name="charts")
    op.drop_table("charts")
    op.drop_index(op.f("ix_saved_queries_owner_id"), table_name="saved_queries")
    op.drop_index(op.f("ix_saved_queries_datasource_id"), table_name="saved_queries")
    op.drop_table("saved_queries")
    op.drop_index(op.f("ix_query_templates_owner_id"), table_name="query_templates")
    op.drop_table("query_templates")
    op.drop_index("ix_favorites_user_position", table_name="favorites")
    op.drop_table("favorites")
    op.drop_index(op.f("ix_chart_templates_owner_id"), table_name="chart_templates")
    op.drop_table("chart_templates")

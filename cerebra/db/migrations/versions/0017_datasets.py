"""Datasets: versioned SFT and preference datasets with lineage (issue 11, part A2).

`datasets` names each dataset of a tenant (kind sft | dpo, task, latest version);
`dataset_versions` holds one immutable version each (its content hash, row count, the
curation report and the lineage); `dataset_rows` the rows of a version, in order.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("task", sa.String(200), nullable=True),
        sa.Column("latest_version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "dataset_versions",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("parent_id", sa.String(64), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("row_count", sa.Integer, nullable=False),
        sa.Column("report", sa.JSON, nullable=False),
        sa.Column("lineage", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ux_dataset_versions_name", "dataset_versions",
                    ["tenant_id", "name", "version"], unique=True)
    op.create_table(
        "dataset_rows",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("version_id", sa.String(64), nullable=False),
        sa.Column("idx", sa.Integer, nullable=False),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("completion", sa.Text, nullable=True),
        sa.Column("chosen", sa.Text, nullable=True),
        sa.Column("rejected", sa.Text, nullable=True),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("trace_id", sa.String(64), nullable=True),
        sa.Column("task", sa.String(200), nullable=True),
    )
    op.create_index("ux_dataset_rows_version", "dataset_rows",
                    ["tenant_id", "version_id", "idx"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_dataset_rows_version", table_name="dataset_rows")
    op.drop_table("dataset_rows")
    op.drop_index("ux_dataset_versions_name", table_name="dataset_versions")
    op.drop_table("dataset_versions")
    op.drop_table("datasets")

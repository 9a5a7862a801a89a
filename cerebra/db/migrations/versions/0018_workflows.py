"""Workflows and training runs (issue 11, part B): a tenant's stored workflows (the YAML as
written and its validated keys) and one row per training run (its job, the dataset versions
it read, its stable output folder, adapter, state and figures).

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workflows",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("yaml", sa.Text, nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "training_runs",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("workflow", sa.String(100), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("job_id", sa.String(64), nullable=True),
        sa.Column("datasets", sa.JSON, nullable=False),
        sa.Column("out_dir", sa.Text, nullable=False),
        sa.Column("adapter_dir", sa.Text, nullable=True),
        sa.Column("gguf_path", sa.Text, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=True),
    )
    op.create_index("ix_training_runs_time", "training_runs", ["tenant_id", "created_at"])
    op.create_index("ix_training_runs_job", "training_runs", ["tenant_id", "job_id"])


def downgrade() -> None:
    op.drop_index("ix_training_runs_job", "training_runs")
    op.drop_index("ix_training_runs_time", "training_runs")
    op.drop_table("training_runs")
    op.drop_table("workflows")

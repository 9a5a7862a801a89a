"""Model versions, adapters, promotions and rollbacks (issue 11, part E).

`model_versions`: one row per LoRA adapter version of a served name "base:adapter" with its
lineage and state (candidate | serving | retired | refused); `model_promotions`: the history
of promote / deploy / rollback actions (see cerebra.improve.registry).

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("base", sa.String(160), nullable=False),
        sa.Column("adapter", sa.String(64), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("dataset_version_id", sa.String(64), nullable=True),
        sa.Column("workflow", sa.JSON, nullable=True),
        sa.Column("job_id", sa.String(64), nullable=True),
        sa.Column("gate_report_id", sa.String(64), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("promoted_at", sa.Float, nullable=True),
        sa.Column("retired_at", sa.Float, nullable=True),
        sa.Column("notes", sa.Text, nullable=False),
    )
    op.create_index("ix_model_versions_name", "model_versions",
                    ["tenant_id", "name", "created_at"])
    op.create_index("ix_model_versions_state", "model_versions", ["state", "name"])
    op.create_table(
        "model_promotions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("from_version", sa.String(32), nullable=True),
        sa.Column("to_version", sa.String(32), nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("report_id", sa.String(64), nullable=True),
        sa.Column("forced", sa.Boolean, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_model_promotions_name", "model_promotions", ["tenant_id", "name", "id"])


def downgrade() -> None:
    op.drop_index("ix_model_promotions_name", table_name="model_promotions")
    op.drop_table("model_promotions")
    op.drop_index("ix_model_versions_state", table_name="model_versions")
    op.drop_index("ix_model_versions_name", table_name="model_versions")
    op.drop_table("model_versions")

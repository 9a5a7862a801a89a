"""Automatic retraining triggers per task (issue 11, part H): `improve_triggers` holds one
policy per tenant and task — N new rated examples, or a drift of the live score below its
baseline — with its cursor, the job it started and the outcome of its last check.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "improve_triggers",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("task", sa.String(100), primary_key=True),
        sa.Column("workflow", sa.String(200), nullable=False),
        sa.Column("min_new_examples", sa.Integer, nullable=False),
        sa.Column("drift_margin", sa.Float, nullable=True),
        sa.Column("baseline_score", sa.Float, nullable=True),
        sa.Column("window", sa.Integer, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("cursor_at", sa.Float, nullable=False),
        sa.Column("checked_at", sa.Float, nullable=True),
        sa.Column("fired_at", sa.Float, nullable=True),
        sa.Column("fired", sa.Integer, nullable=False),
        sa.Column("active_job_id", sa.String(64), nullable=True),
        sa.Column("last_event", sa.JSON, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("improve_triggers")

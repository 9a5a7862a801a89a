"""Evaluation gate reports and decisions (issue 11, part G): one row per gate decision with
its full report (cerebra.improve.gate.GateReport), per tenant.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gate_reports",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("task", sa.String(200), nullable=False),
        sa.Column("candidate", sa.String(200), nullable=False),
        sa.Column("baseline", sa.String(200), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),  # promote | refuse
        sa.Column("p_value", sa.Float, nullable=False),
        sa.Column("gain", sa.Float, nullable=False),
        sa.Column("report", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_gate_reports_created", "gate_reports", ["tenant_id", "created_at"])
    op.create_index("ix_gate_reports_task", "gate_reports", ["tenant_id", "task", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_gate_reports_task", table_name="gate_reports")
    op.drop_index("ix_gate_reports_created", table_name="gate_reports")
    op.drop_table("gate_reports")

"""Drift detection (issue 13, item 3): `drift_reports` holds the latest comparison of a
recent window with its reference window per tenant, scope and signal; `drift_alerts` the
alerts raised when one drifted. Three indexes serve the windows' reads: an agent's
interactions by time, a tenant's feedback by time, and a tenant's signals by time.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drift_reports",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("scope", sa.String(220), primary_key=True),
        sa.Column("signal", sa.String(16), primary_key=True),
        sa.Column("test", sa.String(32), nullable=False),
        sa.Column("statistic", sa.Float, nullable=True),
        sa.Column("p_value", sa.Float, nullable=True),
        sa.Column("drifted", sa.Boolean, nullable=False),
        sa.Column("checked_at", sa.Float, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
    )
    op.create_table(
        "drift_alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(220), nullable=False),
        sa.Column("signal", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("statistic", sa.Float, nullable=True),
        sa.Column("p_value", sa.Float, nullable=True),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
    )
    op.create_index("ix_drift_alerts_tenant_time", "drift_alerts", ["tenant_id", "created_at"])
    op.create_index("ix_drift_alerts_scope", "drift_alerts",
                    ["tenant_id", "scope", "signal", "created_at"])
    op.create_index("ix_interactions_agent_time", "interactions",
                    ["tenant_id", "agent_id", "created_at"])
    op.create_index("ix_signals_time", "signals", ["tenant_id", "created_at"])
    op.create_index("ix_interactions_feedback_time", "interactions",
                    ["tenant_id", "feedback_at"])


def downgrade() -> None:
    op.drop_index("ix_interactions_feedback_time", table_name="interactions")
    op.drop_index("ix_signals_time", table_name="signals")
    op.drop_index("ix_interactions_agent_time", table_name="interactions")
    op.drop_index("ix_drift_alerts_scope", table_name="drift_alerts")
    op.drop_index("ix_drift_alerts_tenant_time", table_name="drift_alerts")
    op.drop_table("drift_alerts")
    op.drop_table("drift_reports")

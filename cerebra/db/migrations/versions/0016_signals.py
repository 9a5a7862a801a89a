"""Signals: feedback, judge verdicts, checker results and RLAIF labels on traces (issue 11, A1).

`signals` holds one row per signal on a trace (an interaction's trace id): its kind
(score|thumbs|correction|label|judge|checker|rlaif), a value in [0, 1] (higher is better),
a text (a correction, a label, a judge's reason), the task, the source and how far it is
trusted, a JSON payload (an RLAIF pair, a verdict's contestants) — per tenant.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signals",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("trace_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("text", sa.Text, nullable=True),
        sa.Column("task", sa.String(200), nullable=True),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("trust", sa.Float, nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_signals_trace", "signals", ["tenant_id", "trace_id"])
    op.create_index("ix_signals_task", "signals", ["tenant_id", "task", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_signals_task", table_name="signals")
    op.drop_index("ix_signals_trace", table_name="signals")
    op.drop_table("signals")

"""Missions and their outcomes; teams (ventures) with roles, assignments and KPI history,
per tenant.

`missions` holds a tenant's stored mission templates (a prompt set, each prompt with its
check, or a judge; the agents it is assigned to; its pass score). `mission_runs` is one row
per run (a daily run's `daily_key` is its day, unique per mission: the day's run happens
once); `mission_outcomes` one row per agent and prompt (answer, score, reason, model,
latency, error). `ventures`, `venture_roles` (each role's KPI target and current agent),
`venture_assignments` (who held a role when, and why it changed) and `venture_kpis` (every
KPI value recorded) are the teams of cerebra.agents.teams.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "missions",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("spec", sa.JSON, nullable=False),  # as cerebra.agents.missions reads it
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "mission_runs",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("mission", sa.String(64), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),  # daily | manual
        sa.Column("daily_key", sa.String(16), nullable=True),  # the day of a daily run
        sa.Column("state", sa.String(16), nullable=False),  # running | done | failed
        sa.Column("summary", sa.JSON, nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=True),
    )
    op.create_index("ux_mission_runs_daily", "mission_runs",
                    ["tenant_id", "mission", "daily_key"], unique=True)
    op.create_index("ix_mission_runs_started", "mission_runs", ["tenant_id", "started_at"])
    op.create_table(
        "mission_outcomes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("prompt_index", sa.Integer, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("trace_id", sa.String(64), nullable=False),
    )
    op.create_index("ix_mission_outcomes_run", "mission_outcomes", ["tenant_id", "run_id", "id"])
    op.create_table(
        "ventures",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "venture_roles",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("venture", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(64), primary_key=True),
        sa.Column("kpi", sa.String(64), nullable=False),
        sa.Column("target", sa.Float, nullable=False),
        sa.Column("window", sa.Integer, nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("specialisation", sa.JSON, nullable=False),  # the traits the role asks for
        sa.Column("generation", sa.Integer, nullable=False),  # agents the role has had
        sa.Column("position", sa.Integer, nullable=False),  # the role's place in the venture
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "venture_assignments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("venture", sa.String(64), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("ended_at", sa.Float, nullable=True),
    )
    op.create_index("ix_venture_assignments_role", "venture_assignments",
                    ["tenant_id", "venture", "role", "id"])
    op.create_table(
        "venture_kpis",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("venture", sa.String(64), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_venture_kpis_role", "venture_kpis", ["tenant_id", "venture", "role", "id"])


def downgrade() -> None:
    op.drop_index("ix_venture_kpis_role", table_name="venture_kpis")
    op.drop_table("venture_kpis")
    op.drop_index("ix_venture_assignments_role", table_name="venture_assignments")
    op.drop_table("venture_assignments")
    op.drop_table("venture_roles")
    op.drop_table("ventures")
    op.drop_index("ix_mission_outcomes_run", table_name="mission_outcomes")
    op.drop_table("mission_outcomes")
    op.drop_index("ix_mission_runs_started", table_name="mission_runs")
    op.drop_index("ux_mission_runs_daily", table_name="mission_runs")
    op.drop_table("mission_runs")
    op.drop_table("missions")

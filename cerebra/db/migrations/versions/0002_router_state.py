"""Router state: bandit state and policies (router_state) and the decision log (router_decisions).

tenant_id is not a foreign key here: tenant "*" holds policies that apply to every tenant.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "router_state",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("scope", sa.String(200), primary_key=True),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "router_decisions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.String(200), nullable=False),
        sa.Column("scope", sa.String(200), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("strategy", sa.String(64), nullable=False),
        sa.Column("arm", sa.String(200), nullable=False),
        sa.Column("served_by", sa.String(200), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("features", sa.JSON, nullable=False),
        sa.Column("candidates", sa.JSON, nullable=False),
        sa.Column("attempts", sa.JSON, nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("cost_usd", sa.Float, nullable=False),
        sa.Column("prompt_tokens", sa.Integer, nullable=False),
        sa.Column("completion_tokens", sa.Integer, nullable=False),
        sa.Column("quality", sa.Float, nullable=True),
        sa.Column("reward", sa.Float, nullable=True),
    )
    op.create_index(
        "ix_router_decisions_tenant_time", "router_decisions", ["tenant_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_router_decisions_tenant_time", table_name="router_decisions")
    op.drop_table("router_decisions")
    op.drop_table("router_state")

"""Agents: the registry and the history of title changes, per tenant.

`agents` holds one row per agent of a tenant (its id is unique within the tenant): the
generated persona (system prompt, mood, tone, traits), the record its title follows (results,
successes, the sum and sum of squares of scores), the title and the sandbox flag, lineage
(mentor, the parents of a combined agent) and how it answers (memory scope, preferred models,
template). `agent_title_history` keeps every title change with its reason.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("system_prompt", sa.Text, nullable=False),
        sa.Column("mood", sa.String(40), nullable=False),
        sa.Column("tone", sa.String(40), nullable=False),
        sa.Column("traits", sa.JSON, nullable=False),
        sa.Column("title", sa.String(16), nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("successes", sa.Integer, nullable=False),
        sa.Column("score_sum", sa.Float, nullable=False),
        sa.Column("score_sq", sa.Float, nullable=False),
        sa.Column("sandboxed", sa.Boolean, nullable=False),
        sa.Column("mentor_id", sa.String(64), nullable=True),
        sa.Column("parents", sa.JSON, nullable=False),
        sa.Column("memory_scope", sa.String(64), nullable=False),
        sa.Column("preferred_models", sa.JSON, nullable=False),
        sa.Column("template", sa.String(200), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "agent_title_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("from_title", sa.String(16), nullable=True),
        sa.Column("to_title", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_agent_title_history_agent", "agent_title_history",
                    ["tenant_id", "agent_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_agent_title_history_agent", table_name="agent_title_history")
    op.drop_table("agent_title_history")
    op.drop_table("agents")

"""Prompt templates in the database: versions with labels and A/B outcomes, per tenant.

`prompt_templates` keeps every version of a tenant's template (a version is never changed
or deleted: a rewrite adds one); `prompt_labels` points a label (production, staging or any
name) at one version; `ab_tests` splits traffic between two versions of a template and
`ab_outcomes` holds what each arm earned (feedback, judge scores) for the comparison.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prompt_templates",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("variables", sa.JSON, nullable=False),
        sa.Column("origin", sa.String(200), nullable=False),
        sa.Column("parent_version", sa.Integer, nullable=True),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "prompt_labels",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("label", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "ab_tests",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version_a", sa.Integer, nullable=False),
        sa.Column("version_b", sa.Integer, nullable=False),
        sa.Column("split", sa.Float, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_ab_tests_name", "ab_tests", ["tenant_id", "name"])
    op.create_table(
        "ab_outcomes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("test_id", sa.String(64), nullable=False),
        sa.Column("arm", sa.String(1), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.ForeignKeyConstraint(["tenant_id", "test_id"], ["ab_tests.tenant_id", "ab_tests.id"],
                                ondelete="CASCADE"),
    )
    op.create_index("ix_ab_outcomes_test", "ab_outcomes", ["tenant_id", "test_id", "arm"])


def downgrade() -> None:
    op.drop_index("ix_ab_outcomes_test", table_name="ab_outcomes")
    op.drop_table("ab_outcomes")
    op.drop_index("ix_ab_tests_name", table_name="ab_tests")
    op.drop_table("ab_tests")
    op.drop_table("prompt_labels")
    op.drop_table("prompt_templates")

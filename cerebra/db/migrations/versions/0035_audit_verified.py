"""Incremental audit verification: `audit_verified`, one row per tenant with the prefix of its
chain a verification walked and found intact (through entry `seq`, whose hash is `hash`, with
`checkpoints` signed checkpoints among them, at `verified_at`) and the outcome of the last
whole-chain walk (`full_at`, `full_ok`, `full_entries`, `full_problem`). It is verification
state, not part of the chain: no append-only triggers, rows are updated in place.

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_verified",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),  # 0: no verified prefix
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("checkpoints", sa.BigInteger, nullable=False),
        sa.Column("verified_at", sa.Float, nullable=True),
        sa.Column("full_at", sa.Float, nullable=True),
        sa.Column("full_ok", sa.Boolean, nullable=True),
        sa.Column("full_entries", sa.BigInteger, nullable=True),
        sa.Column("full_problem", sa.Text, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("audit_verified")

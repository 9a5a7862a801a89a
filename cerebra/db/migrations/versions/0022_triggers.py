"""Automatic retraining triggers per task (issue 11, part H).

Reserved revision: filled in by the part that owns it (no-op until then).

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30
"""

from __future__ import annotations

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

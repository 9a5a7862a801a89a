"""Evaluation gate reports and decisions (issue 11, part G).

Reserved revision: filled in by the part that owns it (no-op until then).

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30
"""

from __future__ import annotations

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

"""Signals: feedback, judge verdicts, checker results and RLAIF labels on traces (issue 11, A1).

Reserved revision: filled in by the part that owns it (no-op until then).

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30
"""

from __future__ import annotations

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

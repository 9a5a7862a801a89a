"""Datasets: versioned SFT and preference datasets with lineage (issue 11, part A2).

Reserved revision: filled in by the part that owns it (no-op until then).

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30
"""

from __future__ import annotations

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

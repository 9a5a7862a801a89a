"""The table of learned retrieval weights (issue 12, item 6), on the shared metadata.
Every row carries `tenant_id`."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, Integer, String, Table

from cerebra.db.metadata import metadata

# One row per version of a scope's weights (tenant, agent; "" is the whole tenant). Rows are
# only appended: `event` says what made the version (update, reset, rollback), `weights`
# the learned signal weights, `updates` and `pairs` how much feedback they have absorbed,
# `loss` the pairwise loss of the update's feedback before the step, `based_on` the version
# a rollback restored.
memory_weights = Table(
    "memory_weights",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("agent_id", String(200), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("event", String(16), nullable=False),
    Column("weights", JSON, nullable=False),
    Column("updates", Integer, nullable=False),
    Column("pairs", Integer, nullable=False),
    Column("loss", Float, nullable=True),
    Column("based_on", Integer, nullable=True),
    Column("created_at", Float, nullable=False),
)

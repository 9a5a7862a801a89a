"""Tables of context bundles (issue 12, item 5): each bundle handed to an outside agent and
the agent's feedback on it, on the shared metadata. Every row carries `tenant_id`."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, Index, String, Table, Text

from cerebra.db.metadata import metadata

# One row per bundle: the memories with their scores and signal shares and the weights in
# force (what online weight learning replays), then the agent's outcome once it reports it.
context_bundles = Table(
    "context_bundles",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("user_id", String(200), nullable=False),
    Column("agent_id", String(200), nullable=False),
    Column("session_id", String(200), nullable=False),
    Column("query", Text, nullable=False),
    Column("memories", JSON, nullable=False),  # [{id, score, signals: {name: share}}]
    Column("weights", JSON, nullable=False),  # RetrievalWeights in force, as a dict
    Column("created_at", Float, nullable=False),
    Column("score", Float, nullable=True),  # the agent's outcome, 0..1
    Column("helpful", JSON, nullable=True),  # memory ids the agent says helped
    Column("unhelpful", JSON, nullable=True),  # memory ids the agent says misled it
    Column("feedback_at", Float, nullable=True),
    Index("ix_context_bundles_tenant", "tenant_id", "created_at"),
)

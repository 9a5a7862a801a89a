"""Tables of facts in time (issue 12, item 2): the (subject, attribute, value) statements
each memory makes, with the interval each one is valid, on the shared metadata. Written in
the memory's own write transaction (cerebra.memory.supersession); every row carries
`tenant_id`.

A timeline is every statement of one (tenant, user, agent, subject, attribute), ordered by
the time it was stated. A statement is valid from the start of its run (the earliest of the
consecutive statements of the same value; `opens` marks the first run, assumed to hold
before it too) until the next statement of a different value (`valid_to`, with that
statement's memory in `superseded_by`); NULL while current.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, ForeignKey, Index, Integer, String, Table

from cerebra.db.metadata import metadata

memory_facts = Table(
    "memory_facts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("memory_id", Integer, ForeignKey("memories.id", ondelete="CASCADE"), nullable=False),
    Column("tenant_id", String(64), nullable=False),
    Column("user_id", String(200), nullable=False),
    Column("agent_id", String(200), nullable=False),
    Column("subject", String(200), nullable=False),  # normalised: "alice", "alice:sister"
    Column("attribute", String(200), nullable=False),  # "lives_in", "likes:tea", ...
    Column("value", String(400), nullable=False),  # normalised value
    Column("stated_at", Float, nullable=False),  # the memory's created_at
    Column("valid_from", Float, nullable=False),  # start of this value's run
    Column("valid_to", Float, nullable=True),  # NULL: current
    Column("superseded_by", String(32), nullable=True),  # uid of the superseding memory
    Column("opens", Integer, nullable=False),  # 1: first run of its timeline
    Index("ix_memory_facts_memory", "memory_id"),
    Index(
        "ix_memory_facts_timeline", "tenant_id", "user_id", "agent_id", "subject", "attribute"
    ),
)

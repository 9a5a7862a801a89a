"""Tables of the memory knowledge graph (issue 12, item 1): which entities each memory
mentions (`memory_mentions`) and the relations it states between two of them
(`memory_relations`), on the shared metadata. Written in the memory's own write
transaction (cerebra.memory.graph_store); every row carries `tenant_id`.

Edges between memories are not stored: two memories are linked when they mention the same
entity, a join on `memory_mentions` by (tenant_id, entity). A stored edge table grows with
the square of an entity's mentions (a name in half of 10k memories is 25M edges) and every
update or delete would have to rewrite the edges of all its neighbours; mentions grow
linearly and a memory's graph is exactly its own rows.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, text

from cerebra.db.metadata import metadata

# One row per (memory, entity): the entity's normalised key (what links mentions across
# memories), the surface form seen in this memory, its kind and how often it occurs here.
memory_mentions = Table(
    "memory_mentions",
    metadata,
    Column("memory_id", Integer, ForeignKey("memories.id", ondelete="CASCADE"), primary_key=True),
    Column("entity", String(200), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),  # person | name | date | number | thing
    Column("count", Integer, nullable=False),
    Index("ix_memory_mentions_entity", "tenant_id", "entity", "memory_id"),
    # the unconfirmed sentence openers, found by the write that confirms their name
    Index(
        "ix_memory_mentions_openers",
        "tenant_id",
        "entity",
        sqlite_where=text("kind = 'opener'"),
        postgresql_where=text("kind = 'opener'"),
    ),
)

# A relation stated by a memory: subject entity, the words between (the predicate), object.
memory_relations = Table(
    "memory_relations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("memory_id", Integer, ForeignKey("memories.id", ondelete="CASCADE"), nullable=False),
    Column("tenant_id", String(64), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("predicate", String(200), nullable=False),
    Column("object", String(200), nullable=False),
    Index("ix_memory_relations_memory", "memory_id"),
    Index("ix_memory_relations_subject", "tenant_id", "subject"),
    Index("ix_memory_relations_object", "tenant_id", "object"),
)

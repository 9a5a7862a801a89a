"""The passage vectors of long memories (`memory_passages`, cerebra.memory.passages), on the
shared metadata: one row per memory that has passages, holding all its passage vectors as
one float16 matrix (`dim` columns), written, replaced and deleted in the memory's own
write transaction (cerebra.memory.passage_store). Derived from the text: integrity repair
rebuilds it (cerebra.memory.integrity_passages).
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, LargeBinary, String, Table

from cerebra.db.metadata import metadata

memory_passages = Table(
    "memory_passages",
    metadata,
    Column("memory_id", Integer, ForeignKey("memories.id", ondelete="CASCADE"), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("dim", Integer, nullable=False),
    Column("count", Integer, nullable=False),  # passages (rows of the matrix)
    Column("model", String(200), nullable=True),
    Column("vectors", LargeBinary, nullable=False),
    Index("ix_memory_passages_tenant", "tenant_id"),
)

"""Long-term memory: MemoryStore over a MemoryBackend (SQLite or PostgreSQL) and an Embedder."""

from cerebra.memory.base import Memory, MemoryBackend, MemoryHit, Scope
from cerebra.memory.embedders import Embedder, SentenceTransformerEmbedder
from cerebra.memory.retrieval import RetrievalWeights
from cerebra.memory.sqlite import SQLiteBackend
from cerebra.memory.store import MemoryStore

__all__ = [
    "Embedder",
    "Memory",
    "MemoryBackend",
    "MemoryHit",
    "MemoryStore",
    "RetrievalWeights",
    "SQLiteBackend",
    "Scope",
    "SentenceTransformerEmbedder",
]

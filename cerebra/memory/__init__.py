"""Long-term memory: MemoryStore over a MemoryBackend (SQLite or PostgreSQL) and an Embedder."""

from cerebra.memory.base import Memory, MemoryBackend, MemoryHit, MemoryVersion, Scope
from cerebra.memory.embedders import Embedder, SentenceTransformerEmbedder
from cerebra.memory.ingest import IngestReport, ingest_logs
from cerebra.memory.postgres import PostgresBackend
from cerebra.memory.pruner import Pruner
from cerebra.memory.retrieval import RetrievalWeights
from cerebra.memory.sqlite import SQLiteBackend
from cerebra.memory.store import MemoryStore

__all__ = [
    "Embedder",
    "IngestReport",
    "Memory",
    "MemoryBackend",
    "MemoryHit",
    "MemoryStore",
    "MemoryVersion",
    "PostgresBackend",
    "Pruner",
    "RetrievalWeights",
    "SQLiteBackend",
    "Scope",
    "SentenceTransformerEmbedder",
    "ingest_logs",
]

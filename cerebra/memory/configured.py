"""The memory parts the settings ask for: the backend on the configured database
(PostgreSQL with pgvector, or SQLite) and the embedder. `MemoryStore()` without arguments
uses both; cerebra.runtime builds the Brain's store with them (and the weights carrying the
configured relevance floor)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cerebra.config import Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from cerebra.memory.base import MemoryBackend
    from cerebra.memory.embedders import Embedder
    from cerebra.memory.retrieval import RetrievalWeights


def memory_backend(engine: Engine, settings: Settings | None = None) -> MemoryBackend:
    """The MemoryBackend `memory.backend` names: a TinyDB file, or the database of `engine`
    (PostgreSQL with pgvector, or SQLite with the `memory.vector_index` graph)."""
    settings = settings or get_settings()
    memory = settings.memory
    if memory.backend == "tinydb":
        from cerebra.memory.tinydb_backend import TinyDBBackend

        path = memory.tinydb_path or settings.home / "memory.json"
        return TinyDBBackend(path, index="faiss" if memory.vector_index == "faiss" else "numpy")
    if engine.dialect.name == "postgresql":
        from cerebra.memory.postgres import PostgresBackend

        return PostgresBackend(engine)
    from cerebra.memory.sqlite import SQLiteBackend

    return SQLiteBackend(engine, index=memory.vector_index)


def retrieval_weights(settings: Settings | None = None) -> RetrievalWeights:
    """The default retrieval weights with the configured relevance floor."""
    from cerebra.memory.retrieval import RetrievalWeights

    settings = settings or get_settings()
    return RetrievalWeights(
        relevance_floor=settings.memory.relevance_floor,
        relevance_coverage_weight=settings.memory.relevance_coverage_weight,
        graph_entity=settings.memory.graph_weight,
        graph_hop=settings.memory.graph_weight,
    )


def configured_backend() -> MemoryBackend:
    """The backend on the configured database, migrated first."""
    from cerebra.db.migrate import run_migrations

    return memory_backend(run_migrations())


def load_embedder(settings: Settings | None = None) -> Embedder:
    """The embedder `memory.embedder` names (MiniLM on `memory.embedder_device`, MiniLM on
    ONNX Runtime, or the fake one for tests); built when called, never at import."""
    settings = settings or get_settings()
    if settings.memory.embedder == "fake":
        from cerebra.testing import FakeEmbedder

        return FakeEmbedder()
    if settings.memory.embedder in ("minilm-onnx", "minilm-onnx-fp32"):
        from cerebra.memory.onnx_embedder import OnnxMiniLMEmbedder

        fp32 = settings.memory.embedder == "minilm-onnx-fp32"
        return OnnxMiniLMEmbedder(settings.models_dir / "onnx",
                                  variant="fp32" if fp32 else "int8")
    from cerebra.memory.embedders import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(device=settings.memory.embedder_device)

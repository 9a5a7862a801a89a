"""Assembly of the embedded default: database, model, embedder and memory from Settings.

Kept apart from Brain so that tests and users can build a Brain from their own parts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cerebra.config import Settings
from cerebra.db.engine import make_engine
from cerebra.db.migrate import upgrade
from cerebra.models.base import ModelBackend
from cerebra.models.registry import ModelRegistry

if TYPE_CHECKING:
    from cerebra.brain import Brain
    from cerebra.memory.embedders import Embedder


def load_default_model(settings: Settings) -> ModelBackend:
    """The configured local model: the packaged Gemma GGUF (verified) or a FakeModel."""
    if settings.fake_model:
        from cerebra.testing import FakeModel

        return FakeModel(name=settings.model_name)
    from cerebra.models.llamacpp import LlamaCppBackend
    from cerebra.models.weights import resolve_model_file

    settings.ensure_home()
    path, sha = resolve_model_file(settings.models_dir, settings.model_path, settings.model_sha256)
    return LlamaCppBackend(
        path,
        name=settings.model_name,
        expected_sha256=sha,
        n_ctx=settings.n_ctx,
        n_threads=settings.n_threads,
    )


def load_embedder(settings: Settings) -> Embedder:
    if settings.embedder == "fake":
        from cerebra.testing import FakeEmbedder

        return FakeEmbedder()
    from cerebra.memory.embedders import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(device=settings.embedder_device)


def build_brain(
    settings: Settings, *, model: ModelBackend | None = None, embedder: Any = None
) -> Brain:
    from cerebra.brain import Brain
    from cerebra.memory.sqlite import SQLiteBackend
    from cerebra.memory.store import MemoryStore

    settings.check_secrets()
    settings.ensure_home()
    engine = make_engine(settings.db_url)
    upgrade(engine)
    registry = ModelRegistry()
    registry.add(model or load_default_model(settings), default=True)
    memory = MemoryStore(
        SQLiteBackend(engine),
        embedder or load_embedder(settings),
        max_chars=settings.memory_max_chars,
    )
    return Brain(models=registry, memory=memory, engine=engine, settings=settings)


def build_memory_store(settings: Settings, *, embedder: Any = None) -> Any:
    """A MemoryStore on the configured database, without loading any model."""
    from cerebra.memory.sqlite import SQLiteBackend
    from cerebra.memory.store import MemoryStore

    settings.ensure_home()
    engine = make_engine(settings.db_url)
    upgrade(engine)
    return MemoryStore(
        SQLiteBackend(engine),
        embedder or load_embedder(settings),
        max_chars=settings.memory_max_chars,
    )

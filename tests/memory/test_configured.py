"""`MemoryStore()` without arguments: the configured database (migrated) and the embedder
`memory.embedder` names."""

from __future__ import annotations

import pytest

from cerebra.config import get_settings
from cerebra.memory.sqlite import SQLiteBackend
from cerebra.memory.store import MemoryStore
from cerebra.testing import FakeEmbedder


def test_a_bare_store_uses_the_configured_database_and_embedder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CEREBRA_MEMORY__EMBEDDER", "fake")
    get_settings.cache_clear()
    store = MemoryStore()
    try:
        assert isinstance(store.backend, SQLiteBackend)
        assert isinstance(store.embedder, FakeEmbedder)  # not the default MiniLM
        memory_id = store.add("agent", "the configured store keeps this")
        assert store.get(memory_id) is not None
    finally:
        store.backend.close()
        get_settings.cache_clear()

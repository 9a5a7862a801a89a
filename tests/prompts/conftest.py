"""Fixtures of the prompt tests: a migrated database (SQLite, and PostgreSQL where asked),
its TemplateStore, and a memory store on it with deterministic embeddings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from cerebra.db.engine import make_engine
from cerebra.db.migrate import upgrade
from cerebra.memory.sqlite import SQLiteBackend
from cerebra.memory.store import MemoryStore
from cerebra.prompts.template_store import TemplateStore
from cerebra.testing import FakeEmbedder


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def templates(engine: Engine) -> TemplateStore:
    return TemplateStore(engine)


@pytest.fixture
def memory(engine: Engine) -> MemoryStore:
    return MemoryStore(SQLiteBackend(engine), FakeEmbedder())

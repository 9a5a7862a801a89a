"""The whole Brain on PostgreSQL: CEREBRA_DATABASE_URL selects pgvector memory, and every
migration (interactions, router tables, feedback) applies to a real server."""

from __future__ import annotations

from pathlib import Path

import pytest

from cerebra.brain import Brain
from cerebra.config import Settings
from cerebra.memory.postgres import PostgresBackend
from cerebra.testing import FakeEmbedder, FakeModel

pytestmark = pytest.mark.postgres


def test_brain_on_postgres_recalls_and_takes_feedback(pg_url: str, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "h", database={"url": pg_url})
    brain = Brain.from_settings(settings, model=FakeModel("Noted."), embedder=FakeEmbedder())
    try:
        assert isinstance(brain.memory.backend, PostgresBackend)
        first = brain.ask("Remember that my favourite colour is teal.", user_id="pg")
        second = brain.ask("What is my favourite colour?", user_id="pg")
        assert first.stored_memory_id in [h.memory.uid for h in second.memories]
        result = brain.feedback(second.trace_id, 1.0)
        assert result["memories_reinforced"] >= 1
        row = brain.ledger.get(second.trace_id)
        assert row is not None and row["quality"] == 1.0
    finally:
        brain.close()

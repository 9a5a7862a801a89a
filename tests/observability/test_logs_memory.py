"""MemoryLogHandler: log records become memories of the configured agent (tagged by the
memory's own log ingestion), level-filtered, bounded, in the record's tenant, and never
recursive (memory's own lines and lines logged while ingesting stay out)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from cerebra.auth.identity import IdentityStore
from cerebra.brain import Brain
from cerebra.config import Settings
from cerebra.context import RequestContext
from cerebra.memory.store import MemoryStore
from cerebra.observability.log_memory import MemoryLogHandler
from cerebra.testing import FakeModel

log = logging.getLogger("tests.app")


@pytest.fixture
def memory(tmp_path: Any) -> Iterator[MemoryStore]:
    settings = Settings(home=tmp_path / "home", memory={"embedder": "fake"},
                        health={"interval_s": 0})
    brain = Brain.from_settings(settings, model=FakeModel(name=settings.model.name))
    IdentityStore(brain.engine).create_tenant("acme")
    yield brain.memory
    brain.close()


@pytest.fixture
def attach() -> Iterator[Any]:
    """Put a handler on the root logger for the test; taken off (and closed) after."""
    root = logging.getLogger()
    added: list[logging.Handler] = []

    def put(handler: logging.Handler) -> logging.Handler:
        root.addHandler(handler)
        added.append(handler)
        return handler

    yield put
    for handler in added:
        root.removeHandler(handler)
        handler.close()


def _texts(memory: MemoryStore, tenant: str = "default") -> list[str]:
    found = memory.recent("ops", k=100, context=RequestContext(tenant_id=tenant))
    return sorted(m.text for m in found)


def test_records_become_tagged_memories_of_the_agent(memory: MemoryStore, attach: Any) -> None:
    handler = attach(MemoryLogHandler(memory, "ops", "WARNING"))
    log.warning("disk almost full on node-3", extra={"node": "node-3"})
    log.info("routine heartbeat")  # below the level
    log.error("payment webhook failed", extra={"tenant_id": "acme"})
    log.error("of no tenant we know", extra={"tenant_id": "nobody"})  # refused, alone
    handler.flush()
    assert _texts(memory) == ["disk almost full on node-3"]
    (stored,) = memory.by_tag("ops", "level:warning", k=5)
    assert "logger:tests.app" in stored.tags and stored.metadata["node"] == "node-3"
    assert _texts(memory, "acme") == ["payment webhook failed"]  # the record's tenant
    assert handler.failed == 1  # the unknown tenant's line, and only it


def test_memory_own_lines_and_lines_written_while_ingesting_stay_out(
        memory: MemoryStore, attach: Any) -> None:
    handler = attach(MemoryLogHandler(memory, "ops", "WARNING"))
    add_many = memory.add_many
    calls: list[int] = []

    def noisy(*args: Any, **kwargs: Any) -> list[str]:
        calls.append(1)
        log.warning("ingesting %d", len(args[1]))  # on the ingesting thread: not ingested
        logging.getLogger("cerebra.memory.store").warning("memory says hi")
        return add_many(*args, **kwargs)

    memory.add_many = noisy  # type: ignore[method-assign]
    logging.getLogger("cerebra.memory.sqlite").warning("memory's own line")
    log.warning("the one line")
    handler.flush()
    handler.flush()
    assert _texts(memory) == ["the one line"]
    assert calls == [1] and handler.drain.stats().waiting == 0


def test_bounded_per_minute_and_in_waiting(memory: MemoryStore, attach: Any) -> None:
    handler = attach(MemoryLogHandler(memory, "ops", "WARNING", per_minute=3))
    for n in range(10):
        log.warning("alarm %d", n)
    handler.flush()
    assert len(_texts(memory)) == 3 and handler.limited == 7

    waiting = attach(MemoryLogHandler(memory, "ops2", "WARNING", max_waiting=2,
                                      interval_s=3600))
    handler.per_minute = 0  # the first handler takes nothing more
    for n in range(5):
        log.warning("flood %d", n)
    assert waiting.drain.stats().dropped == 3
    waiting.flush()
    assert len(memory.recent("ops2", k=100)) == 2


def test_repeats_are_stored_once(memory: MemoryStore, attach: Any) -> None:
    handler = attach(MemoryLogHandler(memory, "ops", "WARNING"))
    for _ in range(5):
        log.warning("the same warning")
    handler.flush()
    assert _texts(memory) == ["the same warning"]

"""MemoryStore on SQLite with the fake embedder: the seed API, dedup, scopes, validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from cerebra.errors import InvalidInput
from cerebra.memory import MemoryStore, SQLiteBackend
from cerebra.testing import FakeEmbedder


@pytest.fixture
def store(tmp_path: Path) -> MemoryStore:
    return MemoryStore(SQLiteBackend(str(tmp_path / "mem.db")), FakeEmbedder())


def test_seed_api(store: MemoryStore) -> None:
    uid = store.add("agent-1", "The deploy key rotates every Monday", tags=["ops"], importance=0.8)
    store.add("agent-1", "Lunch is served at noon in the canteen", tags=["office"])
    hits = store.search("agent-1", "when does the deploy key rotate?")
    assert hits[0].memory.uid == uid
    assert hits[0].score >= hits[-1].score
    assert store.similar("agent-1", "deploy key rotation")[0].memory.uid == uid
    assert [m.uid for m in store.by_tag("agent-1", "ops")] == [uid]
    assert store.get(uid) is not None
    assert store.delete(uid)
    assert store.get(uid) is None
    assert all(h.memory.uid != uid for h in store.search("agent-1", "deploy key"))


def test_duplicates_are_stored_once(store: MemoryStore) -> None:
    a = store.add("a", "Same   text here")
    b = store.add("a", "same text here")
    assert a == b and store.count("a") == 1
    c = store.add("other", "same text here")
    assert c != a


def test_scopes_are_isolated(store: MemoryStore) -> None:
    store.add("a", "secret plan alpha", user_id="u1")
    store.add("a", "secret plan beta", user_id="u2")
    hits = store.search("a", "secret plan", user_id="u1")
    assert [h.memory.user_id for h in hits] == ["u1"]
    assert store.delete_all("a", user_id="u1") == 1
    assert store.count("a", user_id="u2") == 1


def test_ttl_hides_expired(store: MemoryStore, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    store.add("a", "ephemeral note", ttl=10)
    assert store.count("a") == 1
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 60)
    assert store.count("a") == 0
    assert store.search("a", "ephemeral note") == []


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("", "text"),
        ("   ", "text"),
        (b"\xff\xfe", "text"),
        ("x" * 30_000, "text"),
        ("bad \ud800", "text"),
    ],
)
def test_bad_text_is_rejected(store: MemoryStore, text: object, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        store.add("a", text)
    assert err.value.field == field
    assert store.count() == 0


def test_bad_importance_and_query(store: MemoryStore) -> None:
    with pytest.raises(InvalidInput, match="importance"):
        store.add("a", "x", importance=2)
    with pytest.raises(InvalidInput, match="query"):
        store.search("a", "")


def test_explain_signals_sum_to_score(store: MemoryStore) -> None:
    store.add("a", "the red bicycle is in the garage")
    hit = store.search("a", "where is the red bicycle", explain=True)[0]
    assert {"text", "vector", "importance", "recency"} <= set(hit.signals)
    assert abs(sum(hit.signals.values()) - hit.score) < 1e-9

"""The TinyDB backend beyond the conformance suite: the file survives reopening, a failed
batch leaves no trace, writes are atomic renames, one process owns a file, threads share
it, and tenants are isolated."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from cerebra.context import RequestContext
from cerebra.memory import MemoryStore
from cerebra.memory.base import NewMemory, Scope
from cerebra.memory.retrieval import gather_candidates
from cerebra.memory.text import content_hash, terms, terms_text
from cerebra.memory.tinydb_backend import TinyDBBackend
from cerebra.memory.tinydb_storage import StoreBusy
from cerebra.testing import FakeEmbedder


def _store(path: Path, index: str = "numpy") -> MemoryStore:
    return MemoryStore(TinyDBBackend(path, index=index), FakeEmbedder())


def test_reopened_file_answers_the_same(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    store = _store(path)
    uid = store.add("a", "the boat is moored at pier nine", tags=["sea"], metadata={"n": 1})
    store.update(uid, text="the boat is moored at pier ten")
    store.add("a", "the garden needs water")
    before = [(h.memory.uid, round(h.score, 6)) for h in store.search("a", "where is the boat")]
    store.backend.close()
    again = _store(path)
    after = [(h.memory.uid, round(h.score, 6)) for h in again.search("a", "where is the boat")]
    assert [u for u, _ in after] == [u for u, _ in before] and after[0][0] == uid
    assert [(v.version, v.text[-4:]) for v in again.history(uid)] == [(1, "nine"), (2, " ten")]
    assert again.get(uid).metadata == {"n": 1}  # type: ignore[union-attr]
    again.backend.close()


def test_failed_batch_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    backend = TinyDBBackend(path)
    store = MemoryStore(backend, FakeEmbedder())
    kept = store.add("a", "a fact that stays")
    on_disk = path.read_bytes()

    def item(text: str) -> NewMemory:
        return NewMemory(text, Scope(agent_id="a"), terms_text(text), content_hash(text))

    with pytest.raises(IndexError):  # "#5" names no earlier item of the batch
        backend.put(
            [
                item("first new fact"),
                NewMemory(
                    "second", Scope(agent_id="a"), "second", content_hash("second"), merge_into="#5"
                ),
            ]
        )
    assert path.read_bytes() == on_disk  # the file was never written
    with pytest.raises(TypeError):  # the commit itself fails: metadata JSON cannot hold
        backend.put([item("a third fact"), replace(item("odd"), metadata={"x": object()})])
    assert path.read_bytes() == on_disk and sorted(p.name for p in tmp_path.iterdir()) == [
        "m.json",
        "m.json.lock",
    ]
    assert [m.uid for m in store.recent("a")] == [kept]  # nor is the memory view changed
    assert store.count("a") == 1 and backend.integrity()["rows"] == 1
    backend.close()


def test_writes_replace_the_file_atomically(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    store = _store(path)
    store.add("a", "first")
    inode = path.stat().st_ino
    store.add("a", "second")
    assert path.stat().st_ino != inode  # a new file renamed over the old one
    assert [p.name for p in tmp_path.iterdir() if ".tmp" in p.name] == []
    data = json.loads(path.read_text())
    assert sorted(d["text"] for d in data["memories"].values()) == ["first", "second"]
    store.backend.close()


def test_one_owner_per_file(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    first = TinyDBBackend(path)
    with pytest.raises(StoreBusy):
        TinyDBBackend(path)
    first.close()
    TinyDBBackend(path).close()  # free again once closed


def test_threads_share_one_backend(tmp_path: Path) -> None:
    store = _store(tmp_path / "m.json")
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(15):
                store.add("a", f"thread {n} wrote line {i}", user_id=f"u{n}")
                store.search("a", f"thread {n} line", user_id=f"u{n}", k=3)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.count("a") == 60 and store.backend.integrity()["missing_vector"] == 0
    store.backend.close()


def test_tenants_are_isolated(tmp_path: Path) -> None:
    store = _store(tmp_path / "m.json", "faiss")
    other = RequestContext(tenant_id="t2")
    mine = store.add("a", "the launch code is kept in the safe")
    theirs = store.add("a", "the launch code is kept in the safe", context=other)
    assert mine != theirs
    assert [h.memory.uid for h in store.search("a", "launch code")] == [mine]
    assert [h.memory.uid for h in store.similar("a", "launch code", context=other)] == [theirs]
    assert store.get(theirs) is None and not store.delete(theirs)
    assert store.delete_all("a", context=other) == 1 and store.get(mine) is not None
    store.backend.close()


def test_faiss_and_numpy_search_alike(tmp_path: Path) -> None:
    texts = [f"note {n} about {w}" for n in range(40) for w in ("tea", "boats")]
    found = []
    for index in ("numpy", "faiss"):
        store = _store(tmp_path / f"{index}.json", index)
        store.add_many("a", texts[:50])
        store.add_many("b", texts[50:])
        hits = store.similar("a", "note 7 about boats", k=10, filters={"tags": {"nin": ["x"]}})
        found.append([(h.memory.text, round(h.score, 5)) for h in hits])
        store.backend.close()
    # FakeEmbedder gives many texts one vector: compare scores, ties may order either way
    assert [s for _, s in found[0]] == [s for _, s in found[1]] and len(found[0]) == 10
    vectors = FakeEmbedder().embed(texts[:50])
    best = float(np.max(vectors @ FakeEmbedder().embed(["note 7 about boats"])[0]))
    assert found[0][0][1] == pytest.approx(best, abs=1e-4)


def test_one_pass_search_matches_the_protocol_path(tmp_path: Path) -> None:
    """search_candidates (one pass) gives what the protocol's methods give one by one."""
    store = _store(tmp_path / "m.json")
    for agent in ("a", "b"):
        store.add_many(agent, [f"{agent} log {n}: the pump {n % 5} ran dry" for n in range(40)])
    store.add("a", "the pump 3 was replaced", tags=["repair"])
    backend = store.backend
    assert isinstance(backend, TinyDBBackend)
    scope = store.scope("a")
    words = terms("which pump ran dry")
    vector = FakeEmbedder().embed(["which pump ran dry"])[0]
    for tags in ((), ("repair",)):
        one = backend.search_candidates(scope, words, vector, 15, tags)
        many = gather_candidates(backend, scope, words, vector, 15, tags)
        assert one.text == many.text and one.vector == many.vector
        assert one.memories == many.memories and one.stats == many.stats
    assert len(one.text) == 1 and one.stats is not None and one.stats.docs == 41
    backend.close()

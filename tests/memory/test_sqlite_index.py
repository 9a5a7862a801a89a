"""The SQLite vector index: HNSW path with filters, persistence, catch-up, rebuild, migration;
the index tests run with each graph (usearch HNSW, FAISS flat)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from cerebra.db import make_engine, upgrade
from cerebra.memory import MemoryStore, SQLiteBackend, sqlite_search, vector_index
from cerebra.testing import FakeEmbedder


def _store(path: Path, kind: str = "usearch") -> MemoryStore:
    return MemoryStore(SQLiteBackend(str(path), index=kind), FakeEmbedder())


@pytest.fixture(params=["usearch", "faiss"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_hnsw_path_keeps_filters_before_the_cut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    monkeypatch.setattr(sqlite_search, "EXACT_MAX", 20)
    store = _store(tmp_path / "m.db", kind)
    store.add_many("a", [f"weather report for day {n}" for n in range(200)])
    rare = store.add_many(
        "b", [{"text": f"weather report {n}", "metadata": {"k": n}} for n in range(3)]
    )
    assert len(store.backend.vector_index(64, store.backend.engine.connect())) > 20  # type: ignore[attr-defined]
    near = store.similar(None, "weather report for day 5", k=5)
    vectors = FakeEmbedder().embed([f"weather report for day {n}" for n in range(200)])
    best = float(np.max(vectors @ FakeEmbedder().embed(["weather report for day 5"])[0]))
    assert near[0].score == pytest.approx(best, abs=1e-2)
    assert {h.memory.uid for h in store.similar("b", "weather report", k=10)} == set(rare)
    assert [h.memory.uid for h in store.similar(None, "weather", k=5, filters={"k": 2})] == [
        rare[2]
    ]
    assert {
        h.memory.uid for h in store.search(None, "weather report", k=3, filters={"k": {"gte": 0}})
    } == set(rare)


def test_index_persists_and_catches_up_after_other_writers(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "m.db"
    first = _store(path, kind)
    ids = first.add_many("a", [f"note number {n} about apples" for n in range(50)])
    first.similar("a", "apples", k=1)
    first.backend.close()  # saves the index
    files = sorted((tmp_path / "m.db.vectors").glob(f"vectors-64-s*.{kind}"))
    mirror = files[0].with_suffix(".npz") if kind == "usearch" else Path(f"{files[0]}.npz")
    assert len(files) == 1 and mirror.exists()
    writer = _store(path, kind)  # another process's view: it writes without searching
    more = writer.add_many("a", [f"fresh fact {n} about pears" for n in range(5)])
    writer.delete(ids[0])
    reader = _store(path, kind)  # loads the saved file, then replays the log
    assert reader.similar("a", "fresh fact 3 about pears", k=1)[0].memory.uid == more[3]
    assert all(h.memory.uid != ids[0] for h in reader.similar("a", "note number 0", k=50))
    report = reader.backend.integrity()
    assert report["missing_vector"] == report["orphan_vector"] == 0 and report["rows"] == 54


def test_trimmed_log_or_torn_file_rebuilds_from_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    path = tmp_path / "m.db"
    store = _store(path, kind)
    ids = store.add_many("a", [f"line {n} of the manual" for n in range(30)])
    store.similar("a", "manual", k=1)
    store.backend.close()
    folder = tmp_path / "m.db.vectors"
    for file in folder.glob(f"*.{kind}"):
        file.write_bytes(b"torn")  # a crash mid-write of a foreign tool: unreadable
    monkeypatch.setattr(vector_index, "KEEP_LOG", 0)
    again = _store(path, kind)
    again.add("a", "one more line of the manual")
    assert again.similar("a", "line 3 of the manual", k=1)[0].memory.uid == ids[3]  # rebuilt
    again.backend.save_index()  # type: ignore[attr-defined]  # trims the whole log
    with again.backend.engine.connect() as conn:  # type: ignore[attr-defined]
        assert conn.execute(text("SELECT count(*) FROM memory_vec_log")).scalar() == 0
    late = _store(path, kind)
    late.backend._indexes.clear()  # type: ignore[attr-defined]
    for file in folder.glob("*"):
        file.unlink()  # no file and no log to replay: only a rebuild from rows can answer
    assert late.similar("a", "line 7 of the manual", k=1)[0].memory.uid == ids[7]
    assert late.backend.integrity()["missing_vector"] == 0


def test_upgrade_from_0002_keeps_and_indexes_old_memories(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0002")
    vector = FakeEmbedder().embed(["legacy memory about boats"])[0]
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO memories (uid, tenant_id, user_id, agent_id, session_id, text, tags, "
                "metadata, source, importance, salience, content_hash, created_at, updated_at, "
                "embedding, embedding_model) VALUES ('u1', 'default', '', 'a', '', "
                "'legacy memory about boats', '[]', '{}', 'user', 0.5, 0, 'h', 1, 1, :e, 'fake')"
            ),
            {"e": np.asarray(vector, dtype=np.float32).tobytes()},
        )
        conn.execute(
            text("INSERT INTO memories_fts (rowid, terms) VALUES (1, 'legaci memori boat')")
        )
    store = MemoryStore(SQLiteBackend(engine), FakeEmbedder())
    assert store.get("u1") is not None and store.get("u1").version == 1  # type: ignore[union-attr]
    assert store.similar("a", "legacy memory about boats", k=1)[0].memory.uid == "u1"
    assert store.search("a", "boats")[0].memory.uid == "u1"
    assert store.history("u1")[-1].event == "current"


def test_common_terms_are_dropped_only_past_the_postings_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store(tmp_path / "m.db")
    common = store.add_many("a", [f"status update {n}" for n in range(20)])
    rare = store.add("a", "status of the zeppelin hangar")
    backend = store.backend
    both = backend.text_candidates(store.scope("a"), ["status", "zeppelin"], 50)
    assert len(both) == 21  # under the budget: every matching document is a candidate
    monkeypatch.setattr(sqlite_search, "TEXT_POSTINGS_BUDGET", 5)
    monkeypatch.setattr(sqlite_search, "TEXT_BUDGET_FROM_DOCS", 1000)  # a "small" store
    assert len(backend.text_candidates(store.scope("a"), ["status", "zeppelin"], 50)) == 21
    monkeypatch.setattr(sqlite_search, "TEXT_BUDGET_FROM_DOCS", 0)  # the default: any store
    only_rare = backend.text_candidates(store.scope("a"), ["status", "zeppelin"], 50)
    assert [c.row_id for c in only_rare] == [store.get(rare).row_id]  # type: ignore[union-attr]
    alone = backend.text_candidates(store.scope("a"), ["status"], 50)
    assert len(alone) == len(common) + 1  # the rarest term is always kept


def test_switching_the_graph_kind_rebuilds_then_catches_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store indexed by usearch opened with FAISS builds its graph from the rows (it never
    loads the other kind's file); back on usearch, the old file replays what came since."""
    monkeypatch.setattr(sqlite_search, "EXACT_MAX", 5)  # search the graphs themselves
    path = tmp_path / "m.db"
    first = _store(path, "usearch")
    cargo = ["tea", "silk", "salt", "wool", "iron", "rum", "corn", "rice", "wine", "coal"]
    ids = first.add_many("a", [f"the ship carried {w} to port" for w in cargo])
    first.similar("a", "ship", k=1)
    first.backend.close()
    faiss = _store(path, "faiss")
    rum = ids[cargo.index("rum")]
    assert faiss.similar("a", "the ship carried rum to port", k=1)[0].memory.uid == rum
    later = faiss.add("a", "a storm hit the ship at dawn")
    faiss.delete(rum)
    faiss.backend.close()
    folder = tmp_path / "m.db.vectors"
    names = sorted(re.sub(r"-s\d+", "", p.name) for p in folder.iterdir())
    assert names == [
        "vectors-64.faiss",
        "vectors-64.faiss.npz",
        "vectors-64.npz",
        "vectors-64.usearch",
    ]
    back = _store(path, "usearch")
    assert back.similar("a", "a storm hit the ship at dawn", k=1)[0].memory.uid == later
    assert back.backend._indexes[64].saved_seq > 0  # type: ignore[attr-defined]  # loaded, not rebuilt
    assert rum not in {h.memory.uid for h in back.similar("a", "carried rum", k=40)}
    report = back.backend.integrity()
    assert report["missing_vector"] == report["orphan_vector"] == 0 and report["rows"] == 10

"""Effect checks of the memory storage settings: the backend (database or a TinyDB file),
the TinyDB file's path, and the vector index of the SQLite and TinyDB backends."""

from __future__ import annotations

import json
from pathlib import Path

from cerebra.brain import Brain
from cerebra.config import get_settings
from tests.effects.base import Env, effect

NOTE = "Alice keeps her green tea in the blue tin"


def _stored_uids(path: Path) -> set[str]:
    data = json.loads(path.read_text())
    return {doc["uid"] for doc in data.get("memories", {}).values()}


@effect("CEREBRA_MEMORY__BACKEND")
def _memory_backend(env: Env) -> None:
    db = env.brain(CEREBRA_HOME=str(env.tmp / "db"))
    db.memory.add("", NOTE, user_id="u")
    assert db.memory.backend.name == "sqlite" and not (env.tmp / "db" / "memory.json").exists()
    tiny = env.brain(CEREBRA_MEMORY__BACKEND="tinydb", CEREBRA_HOME=str(env.tmp / "tiny"))
    uid = tiny.memory.add("", NOTE, user_id="u")
    assert tiny.memory.backend.name == "tinydb"
    assert _stored_uids(env.tmp / "tiny" / "memory.json") == {uid}  # the memory is in the file
    answer = tiny.ask("where is the green tea?", user_id="u")
    assert [h.memory.uid for h in answer.memories][:1] == [uid]  # and recalled from it
    tiny.close()  # one process (store) owns the file at a time
    feedback = Brain.for_feedback(get_settings())  # the CLI's: database and memory, no model
    try:
        assert feedback.memory.get(uid) is not None
    finally:
        feedback.close()


@effect("CEREBRA_MEMORY__TINYDB_PATH")
def _tinydb_path(env: Env) -> None:
    path = env.tmp / "elsewhere" / "notes.json"
    brain = env.brain(
        CEREBRA_MEMORY__BACKEND="tinydb",
        CEREBRA_MEMORY__TINYDB_PATH=str(path),
        CEREBRA_HOME=str(env.tmp / "home"),
    )
    uid = brain.memory.add("", NOTE, user_id="u")
    assert _stored_uids(path) == {uid}
    assert not (env.tmp / "home" / "memory.json").exists()


@effect("CEREBRA_MEMORY__VECTOR_INDEX")
def _vector_index(env: Env) -> None:
    for kind in ("usearch", "faiss"):
        home = env.tmp / kind
        brain = env.brain(CEREBRA_MEMORY__VECTOR_INDEX=kind, CEREBRA_HOME=str(home))
        uid = brain.memory.add("", NOTE, user_id="u")
        brain.memory.add("", "Bob waters the garden on Sundays", user_id="u")
        assert brain.memory.similar("", NOTE, user_id="u", k=1)[0].memory.uid == uid
        brain.memory.backend.save_index()  # type: ignore[attr-defined]
        files = {p.suffix for p in (home / "cerebra.db.vectors").glob("vectors-*")}
        assert files == {".npz", f".{kind}"}, files  # the chosen graph, and only it
    tiny = env.brain(
        CEREBRA_MEMORY__BACKEND="tinydb",
        CEREBRA_MEMORY__VECTOR_INDEX="faiss",
        CEREBRA_HOME=str(env.tmp / "tiny"),
    )
    assert tiny.memory.backend.vectors.kind == "faiss"  # type: ignore[attr-defined]
    uid = tiny.memory.add("", NOTE, user_id="u")
    assert tiny.memory.similar("", NOTE, user_id="u", k=1)[0].memory.uid == uid

"""One conformance suite for every MemoryBackend (SQLite and a real PostgreSQL), through
MemoryStore: the whole API, filters, scopes, dedup, TTL, delete_all isolation, history."""

from __future__ import annotations

import time
from typing import Any

import pytest

from cerebra.errors import InvalidInput, NotFound
from cerebra.memory import MemoryStore
from cerebra.memory.base import MemoryBackend
from cerebra.testing import FakeEmbedder


@pytest.fixture
def store(backend: MemoryBackend) -> MemoryStore:
    return MemoryStore(backend, FakeEmbedder())


def _clean(store: MemoryStore) -> None:
    report = store.backend.integrity()
    assert {k: v for k, v in report.items() if k != "rows"} == {
        "missing_text": 0,
        "orphan_text": 0,
        "missing_vector": 0,
        "orphan_vector": 0,
    }, report


def test_seed_api(store: MemoryStore) -> None:
    uid = store.add("agent-1", "The deploy key rotates every Monday", tags=["ops"], importance=0.8)
    store.add("agent-1", "Lunch is served at noon in the canteen", tags=["office"])
    assert store.search("agent-1", "when does the deploy key rotate?")[0].memory.uid == uid
    assert store.similar("agent-1", "deploy key rotation")[0].memory.uid == uid
    assert [m.uid for m in store.by_tag("agent-1", "ops")] == [uid]
    assert store.recent("agent-1")[0].text.startswith("Lunch")
    assert store.prune("agent-1", threshold=0.5) == 0
    pruner = store.start_pruner("agent-1", interval=3600, ttl=86400)
    assert pruner.wait_for_runs(1)
    pruner.stop()
    assert not pruner.running and pruner.last_error is None
    _clean(store)


def test_batch_add_is_ordered_and_deduplicated(store: MemoryStore) -> None:
    first = store.add("a", "alpha fact")
    ids = store.add_many(
        "a",
        [
            "beta fact",
            {"text": "gamma fact", "tags": ["g"], "metadata": {"n": 3}},
            "Alpha  FACT",
            "beta fact",
        ],
    )
    assert ids[2] == first and ids[3] == ids[0] and len(set(ids)) == 3
    assert store.count("a") == 3
    assert store.get(ids[1]).metadata == {"n": 3}  # type: ignore[union-attr]
    assert store.get(ids[1]).tags == ("g",)  # type: ignore[union-attr]


def test_bad_item_rejects_whole_batch(store: MemoryStore) -> None:
    with pytest.raises(InvalidInput) as err:
        store.add_many("a", ["fine", "", "also fine"])
    assert err.value.field == "items[1].text"
    for bad in ("", b"\xff\xfe", "x" * 20_001, "bad \ud800"):
        with pytest.raises(InvalidInput):
            store.add("a", bad)
    assert store.count() == 0


def test_update_keeps_history(store: MemoryStore) -> None:
    uid = store.add("a", "the server runs on port 8080", tags=["infra"], importance=0.4)
    updated = store.update(uid, text="the server runs on port 9090", importance=0.7)
    assert updated.text.endswith("9090") and updated.version == 2 and updated.tags == ("infra",)
    store.update(uid, tags=["infra", "ports"], metadata={"env": "prod"})
    versions = store.history(uid)
    assert [v.version for v in versions] == [1, 2, 3]
    assert [v.text[-4:] for v in versions] == ["8080", "9090", "9090"]
    assert versions[0].importance == 0.4 and versions[0].event == "update"
    assert versions[-1].event == "current" and versions[-1].valid_to is None
    assert versions[0].valid_to is not None and versions[0].valid_to >= versions[0].valid_from
    hits = store.search("a", "which port does the server use 9090")
    assert hits[0].memory.uid == uid and hits[0].memory.metadata == {"env": "prod"}
    assert store.search("a", "8080", k=5) == [] or all(
        "8080" not in h.memory.text for h in store.search("a", "8080")
    )
    assert [m.uid for m in store.by_tag("a", "ports")] == [uid]
    other = store.add("a", "something else entirely")
    with pytest.raises(InvalidInput, match="duplicates"):
        store.update(other, text="The server runs on port 9090")
    with pytest.raises(NotFound):
        store.update("nope", text="x")
    with pytest.raises(InvalidInput):
        store.update(uid)
    _clean(store)


def test_delete_removes_everywhere(store: MemoryStore) -> None:
    keep = store.add("a", "blue whales are the largest animals", tags=["t"])
    gone = store.add("a", "blue paint dries in an hour", tags=["t"])
    store.update(gone, text="blue paint dries in two hours")
    assert store.delete(gone) and not store.delete(gone)
    assert store.get(gone) is None and store.history(gone) == []
    assert [h.memory.uid for h in store.search("a", "blue paint", k=10)] == [keep]
    assert [h.memory.uid for h in store.similar("a", "blue paint dries", k=10)] == [keep]
    assert [m.uid for m in store.by_tag("a", "t")] == [keep]
    _clean(store)


def test_delete_all_touches_only_its_scope(store: MemoryStore) -> None:
    ids: dict[tuple[str, str], list[str]] = {}
    for u in range(12):
        for agent in ("x", "y"):
            ids[(f"u{u}", agent)] = store.add_many(
                agent,
                [
                    {"text": f"note {n} of user {u} for {agent}", "tags": ["common"]}
                    for n in range(4)
                ],
                user_id=f"u{u}",
            )
    assert store.delete_all(user_id="u5") == 8
    assert store.delete_all("x", user_id="u6") == 4
    for (user, agent), uids in ids.items():
        gone = user == "u5" or (user, agent) == ("u6", "x")
        for uid in uids:
            assert (store.get(uid) is None) == gone, (user, agent)
        assert store.count(agent, user_id=user) == (0 if gone else 4)
    hits = store.search(None, "note of user 5", k=50)
    assert hits and all(h.memory.user_id != "u5" for h in hits)
    assert len(store.by_tag(None, "common", k=500)) == 24 * 4 - 12
    _clean(store)


def test_scopes_isolate_reads(store: MemoryStore) -> None:
    store.add("a", "secret plan alpha", user_id="u1", session_id="s1")
    store.add("a", "secret plan beta", user_id="u2")
    store.add("b", "secret plan gamma", user_id="u1")
    assert [h.memory.text for h in store.search("a", "secret plan", user_id="u1")] == [
        "secret plan alpha"
    ]
    assert len(store.search(None, "secret plan", user_id="u1")) == 2
    assert len(store.similar("a", "secret plan", session_id="s1")) == 1
    assert store.count("a") == 2 and store.count() == 3


def _seed_filters(store: MemoryStore) -> dict[str, str]:
    rows: list[dict[str, Any]] = [
        {
            "text": "meeting notes about the budget",
            "metadata": {"speaker": "Ana", "turn": 1, "topics": ["budget", "q3"], "draft": True},
            "importance": 0.9,
        },
        {
            "text": "meeting notes about hiring",
            "metadata": {"speaker": "Bo", "turn": 2, "topics": ["hiring"], "draft": False},
            "importance": 0.2,
        },
        {
            "text": "meeting notes about the offsite",
            "metadata": {"speaker": "Ana", "turn": 3.5, "room": "Blue Room"},
            "tags": ["travel"],
        },
        {"text": "meeting notes without metadata"},
    ]
    ids = store.add_many("f", rows)
    return dict(zip(["budget", "hiring", "offsite", "plain"], ids, strict=True))


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"speaker": "Ana"}, {"budget", "offsite"}),
        ({"speaker": {"eq": "Ana"}}, {"budget", "offsite"}),
        ({"speaker": {"ne": "Ana"}}, {"hiring", "plain"}),
        ({"speaker": {"in": ["Bo", "Cy"]}}, {"hiring"}),
        ({"speaker": {"nin": ["Bo"]}}, {"budget", "offsite", "plain"}),
        ({"turn": {"gt": 1}}, {"hiring", "offsite"}),
        ({"turn": {"gte": 2, "lt": 3.5}}, {"hiring"}),
        ({"turn": {"lte": 2}}, {"budget", "hiring"}),
        ({"turn": 3.5}, {"offsite"}),
        ({"topics": {"contains": "q3"}}, {"budget"}),
        ({"room": {"contains": "Blue"}}, {"offsite"}),
        ({"draft": True}, {"budget"}),
        ({"draft": False}, {"hiring"}),
        ({"speaker": {"gte": "B"}}, {"hiring"}),
        ({"importance": {"gt": 0.5}}, {"budget"}),
        ({"tags": {"contains": "travel"}}, {"offsite"}),
        ({"OR": [{"speaker": "Bo"}, {"room": "Blue Room"}]}, {"hiring", "offsite"}),
        ({"AND": [{"speaker": "Ana"}, {"OR": [{"turn": 1}, {"draft": False}]}]}, {"budget"}),
        ({"speaker": "Ana", "turn": {"gt": 2}}, {"offsite"}),
        ({"metadata.speaker": "Bo"}, {"hiring"}),
    ],
)
def test_filters(store: MemoryStore, filters: dict[str, Any], expected: set[str]) -> None:
    ids = _seed_filters(store)
    want = {ids[name] for name in expected}
    assert {h.memory.uid for h in store.search("f", "meeting notes", k=10, filters=filters)} == want
    assert {
        h.memory.uid for h in store.similar("f", "meeting notes", k=10, filters=filters)
    } == want
    assert {m.uid for m in store.recent("f", k=10, filters=filters)} == want


def test_filters_apply_before_the_top_k_cut(store: MemoryStore) -> None:
    store.add_many("f", [f"status report number {n}" for n in range(300)])
    rare = store.add_many(
        "f", [{"text": f"unrelated words {n}", "metadata": {"rare": True}} for n in range(3)]
    )
    hits = store.search("f", "status report", k=3, filters={"rare": True})
    assert {h.memory.uid for h in hits} == set(rare)
    near = store.similar("f", "status report number 7", k=3, filters={"rare": True})
    assert {h.memory.uid for h in near} == set(rare)


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"speaker": {"like": "A%"}}, "filter.speaker"),
        ({"turn": {"in": 3}}, "filter.turn"),
        ({"turn": {"gt": [1]}}, "filter.turn"),
        ({"turn": {}}, "filter.turn"),
        ({"bad key!": 1}, "filter.bad key!"),
        ({"OR": {"a": 1}}, "filter.OR"),
        (["speaker", "Ana"], "filter"),
        ({"importance": {"gt": "high"}}, "filter.importance"),
        ({"tags": {"gt": "a"}}, "filter.tags"),
        ({"x": None}, "filter.x"),
    ],
)
def test_bad_filters_name_the_field(store: MemoryStore, filters: Any, field: str) -> None:
    store.add("f", "anything")
    for call in (
        lambda: store.search("f", "anything", filters=filters),
        lambda: store.similar("f", "anything", filters=filters),
        lambda: store.recent("f", filters=filters),
    ):
        with pytest.raises(InvalidInput) as err:
            call()
        assert err.value.field == field


def test_ttl_expiry_and_prune(store: MemoryStore, monkeypatch: pytest.MonkeyPatch) -> None:
    short = store.add("a", "ephemeral note", ttl=10)
    keep = store.add("a", "durable note", importance=0.9)
    low = store.add("a", "trivial note", importance=0.1)
    at = store.add("a", "dated note", expires_at=time.time() + 3600)
    assert store.get(at).expires_at is not None  # type: ignore[union-attr]
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 60)
    assert store.get(short) is None and store.count("a") == 3
    assert [h.memory.uid for h in store.search("a", "ephemeral note")] != [short]
    assert store.prune("a", threshold=0.0) == 1  # only the expired one
    assert store.prune("a", threshold=0.5, ttl=3600) == 0  # nothing older than an hour
    assert store.prune("a", threshold=0.5) == 1  # the trivial one
    assert {store.get(i) is not None for i in (keep, at)} == {True}
    assert store.get(low) is None
    with pytest.raises(InvalidInput):
        store.add("a", "x", ttl=-1)
    with pytest.raises(InvalidInput):
        store.prune("a", threshold=2)
    _clean(store)


def test_reinforce_moves_salience_and_protects_from_pruning(store: MemoryStore) -> None:
    good = store.add("a", "useful answer source", importance=0.4)
    bad = store.add("a", "misleading answer source", importance=0.4)
    assert store.reinforce([good], 1.0) == 1
    assert store.reinforce([bad], -1.0) == 1
    assert store.get(good).salience == pytest.approx(0.1)  # type: ignore[union-attr]
    for _ in range(20):
        store.reinforce([good], 1.0)
    assert store.get(good).salience == pytest.approx(1.0)  # type: ignore[union-attr]
    assert store.reinforce(["missing"], 1.0) == 0
    with pytest.raises(InvalidInput):
        store.reinforce([good], 3)
    assert store.prune("a", threshold=0.45) == 1
    assert store.get(good) is not None and store.get(bad) is None


def test_near_duplicates_merge_only_when_enabled(backend: MemoryBackend) -> None:
    plain = MemoryStore(backend, FakeEmbedder())
    a = plain.add("raw", "disk usage on db-1 is 91 percent")
    b = plain.add("raw", "disk usage on db-1 is 91 percent !")
    assert a != b
    merging = MemoryStore(backend, FakeEmbedder(), near_duplicate_threshold=0.9)
    c = merging.add("m", "the cat sleeps on the red sofa", tags=["pets"], importance=0.3)
    d = merging.add("m", "the cat sleeps on the red sofa !", tags=["home"], importance=0.6)
    e = merging.add("m", "quarterly revenue grew by eight percent")
    assert c == d and e != c and merging.count("m") == 2
    merged = merging.get(c)
    assert merged is not None and merged.text.endswith("!")
    assert set(merged.tags) == {"pets", "home"} and merged.importance == 0.6
    assert [v.event for v in merging.history(c)] == ["merge", "current"]
    batch = merging.add_many(
        "n",
        [
            "red apples from the old orchard are sweet",
            "red apples from the old orchard are sweet !",
        ],
    )
    assert batch[0] == batch[1] and merging.count("n") == 1
    with pytest.raises(InvalidInput):
        MemoryStore(backend, FakeEmbedder(), near_duplicate_threshold=1.5)

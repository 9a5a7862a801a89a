"""Working memory conformance: the in-process store and the Redis store (a real
redis-server) behave alike — bounded rings per session, what falls off handed back once,
isolation between tenants, users, agents and sessions, removal, clearing, expiry."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cerebra.memory.working import (
    InProcessWorkingMemory,
    Kind,
    SessionKey,
    WorkingItem,
    WorkingMemory,
    WorkingMemoryUnavailable,
)
from tests.helpers import free_port, running_redis

KEY = SessionKey("acme", "ana", "helper", "s1")


def item(n: int, kind: Kind = "turn") -> WorkingItem:
    return WorkingItem(id=f"{kind}{n}", kind=kind, text=f"{kind} number {n}",
                       created_at=1000.0 + n, memory_id=f"m{n}" if kind == "turn" else None,
                       metadata={"n": n})


@pytest.fixture(params=["process", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WorkingMemory]:
    if request.param == "process":
        made: WorkingMemory = InProcessWorkingMemory(turns=3, notes=2, ttl_s=60)
        yield made
        made.close()
        return
    from cerebra.memory.working_redis import RedisWorkingMemory

    with running_redis(tmp_path) as url:
        made = RedisWorkingMemory(url, turns=3, notes=2, ttl_s=60)
        yield made
        made.close()


def test_a_ring_keeps_the_last_n_and_hands_back_what_falls_off(store: WorkingMemory) -> None:
    fallen: list[WorkingItem] = []
    for n in range(5):
        fallen.extend(store.push(KEY, item(n)))
    assert [i.id for i in store.state(KEY).turns] == ["turn2", "turn3", "turn4"]
    assert fallen == [item(0), item(1)]  # oldest first, every field round-tripped


def test_turns_and_notes_have_their_own_rings(store: WorkingMemory) -> None:
    for n in range(4):
        store.push(KEY, item(n))
    assert store.push(KEY, item(0, "note")) == []
    assert store.push(KEY, item(1, "note")) == []
    assert store.push(KEY, item(2, "note")) == [item(0, "note")]
    state = store.state(KEY)
    assert [i.id for i in state.notes] == ["note1", "note2"]
    assert [i.id for i in state.turns] == ["turn1", "turn2", "turn3"]


def test_sessions_are_isolated_by_every_part_of_the_key(store: WorkingMemory) -> None:
    store.push(KEY, item(1, "note"))
    for other in (SessionKey("other", "ana", "helper", "s1"),
                  SessionKey("acme", "bo", "helper", "s1"), SessionKey("acme", "ana", "", "s1"),
                  SessionKey("acme", "ana", "helper", "s2"),
                  SessionKey("acme", "ana:helper", "", "s1")):  # separators cannot collide
        assert not store.state(other), other
        assert store.remove(other, "note", "note1") is None
        assert store.clear(other) == []
    assert [i.id for i in store.state(KEY).notes] == ["note1"]


def test_remove_takes_one_item_of_its_kind(store: WorkingMemory) -> None:
    store.push(KEY, item(1, "note"))
    store.push(KEY, item(1))
    assert store.remove(KEY, "note", "turn1") is None  # a turn is not a note
    assert store.remove(KEY, "note", "note1") == item(1, "note")
    assert store.remove(KEY, "note", "note1") is None
    assert [i.id for i in store.state(KEY).turns] == ["turn1"]


def test_clear_empties_the_kinds_asked_and_returns_them(store: WorkingMemory) -> None:
    store.push(KEY, item(1))
    store.push(KEY, item(2, "note"))
    store.push(KEY, item(3))
    assert [i.id for i in store.clear(KEY, ("note",))] == ["note2"]
    assert [i.id for i in store.state(KEY).turns] == ["turn1", "turn3"]
    assert [i.id for i in store.clear(KEY)] == ["turn1", "turn3"]
    assert not store.state(KEY)


def test_a_ring_of_no_size_hands_back_each_item_at_once(store: WorkingMemory) -> None:
    store.notes = 0
    assert store.push(KEY, item(1, "note")) == [item(1, "note")]
    assert not store.state(KEY)


def test_concurrent_pushes_lose_and_duplicate_nothing(store: WorkingMemory) -> None:
    fallen: list[WorkingItem] = []
    lock = threading.Lock()

    def pusher(base: int) -> None:
        for n in range(base, base + 25):
            out = store.push(KEY, item(n))
            with lock:
                fallen.extend(out)

    threads = [threading.Thread(target=pusher, args=(b,)) for b in (0, 100, 200, 300)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    kept = store.state(KEY).turns
    ids = [i.id for i in fallen] + [i.id for i in kept]
    assert len(kept) == 3 and len(ids) == len(set(ids)) == 100


def test_in_process_sessions_expire_after_their_last_write() -> None:
    now = [0.0]
    store = InProcessWorkingMemory(turns=3, notes=2, ttl_s=10, clock=lambda: now[0])
    store.push(KEY, item(1))
    now[0] = 9.0
    store.push(KEY, item(2, "note"))  # renews the whole session
    now[0] = 18.0
    assert [i.id for i in store.state(KEY).turns] == ["turn1"]
    now[0] = 19.5
    assert not store.state(KEY)
    assert len(store) == 0
    for n, session in enumerate(("a", "b")):  # expired sessions go as others are written
        now[0] = 100.0 + 20 * n
        store.push(SessionKey("t", "u", "", session), item(n))
    assert len(store) == 1


def test_in_process_keeps_at_most_max_sessions() -> None:
    store = InProcessWorkingMemory(max_sessions=2)
    for s in ("a", "b", "c"):
        store.push(SessionKey("t", "u", "", s), item(1))
    assert not store.state(SessionKey("t", "u", "", "a"))
    assert store.state(SessionKey("t", "u", "", "c"))


def test_redis_rings_expire_together_through_redis(tmp_path: Path) -> None:
    from cerebra.memory.working_redis import RedisWorkingMemory, ring_key

    with running_redis(tmp_path) as url:
        store = RedisWorkingMemory(url, ttl_s=30)
        store.push(KEY, item(1))
        store.push(KEY, item(1, "note"))
        for kind in ("turn", "note"):
            assert 0 < store.client.pttl(ring_key(KEY, kind)) <= 30_000
        forever = RedisWorkingMemory(url, ttl_s=0)
        forever.push(KEY, item(2))
        assert store.client.pttl(ring_key(KEY, "turn")) == -1  # persisted
        store.close()
        forever.close()


def test_redis_down_is_a_503_error_not_a_connection_error() -> None:
    from cerebra.memory.working_redis import RedisWorkingMemory

    store = RedisWorkingMemory(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(WorkingMemoryUnavailable, match="cannot be reached") as caught:
        store.push(KEY, item(1))
    assert caught.value.status_code == 503
    with pytest.raises(WorkingMemoryUnavailable):
        store.state(KEY)
    store.close()

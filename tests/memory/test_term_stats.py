"""`term_stats` on every backend: per-scope BM25 statistics that follow every write.

The reference is computed from scratch: the live memories `recent()` lists in the scope,
re-tokenised with `terms()` (cerebra.bench.locomo.ScopeStatsBackend does exactly that).
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Sequence

import pytest
from sqlalchemy import text

from cerebra.bench.locomo import ScopeStatsBackend
from cerebra.context import RequestContext
from cerebra.db.migrate import downgrade, upgrade
from cerebra.errors import InvalidInput
from cerebra.memory import MemoryStore
from cerebra.memory.base import MemoryBackend, Scope
from cerebra.memory.sqlbase import SQLMemoryBackend
from cerebra.memory.text import TermStats, terms
from cerebra.testing import FakeEmbedder

WORDS = [
    "cat",
    "dog",
    "bird",
    "fish",
    "plum",
    "river",
    "mountain",
    "piano",
    "violin",
    "garden",
    "rain",
    "tea",
]


@pytest.fixture
def store(backend: MemoryBackend) -> MemoryStore:
    return MemoryStore(backend, FakeEmbedder())


def _stats(
    backend: MemoryBackend, scope: Scope, words: Sequence[str], ids: Sequence[int]
) -> TermStats:
    stats = backend.term_stats(scope, words, ids)  # type: ignore[attr-defined]
    assert isinstance(stats, TermStats)
    return stats


def _assert_matches_reference(
    backend: MemoryBackend, scope: Scope, words: Sequence[str] = WORDS
) -> TermStats:
    live = backend.recent(scope, 100_000)
    ids = [*(m.row_id for m in live[:7]), 10**9]  # and a row id that does not exist
    got = _stats(backend, scope, words, ids)
    want = ScopeStatsBackend(backend).term_stats(scope, words, ids)
    assert got.docs == want.docs == len(live)
    assert got.avg_len == pytest.approx(want.avg_len)
    assert dict(got.df) == dict(want.df)
    assert set(got.df) == set(words)  # every asked term has a key, 0 when absent
    assert {k: list(v) for k, v in got.doc_terms.items()} == {
        k: list(v) for k, v in want.doc_terms.items()
    }
    return got


def test_stats_are_scoped(store: MemoryStore) -> None:
    store.add("a", "The cat chased the dog", user_id="u1")
    store.add("a", "A dog, a dog and a bird", user_id="u2")
    store.add("a", "Fish swim in the river", user_id="u1", session_id="s1")
    store.add("b", "The cat drinks tea in the rain")
    backend = store.backend
    a = _assert_matches_reference(backend, store.scope("a"))
    assert a.docs == 3 and a.df["dog"] == 2 and a.df["cat"] == 1 and a.df["tea"] == 0
    assert a.avg_len == pytest.approx((3 + 3 + 3) / 3)  # stop words are not counted
    u1 = _assert_matches_reference(backend, store.scope("a", user_id="u1"))
    assert u1.docs == 2 and u1.df["dog"] == 1 and u1.df["fish"] == 1
    s1 = _assert_matches_reference(backend, store.scope("a", user_id="u1", session_id="s1"))
    assert s1.docs == 1 and s1.df["cat"] == 0
    everyone = _assert_matches_reference(backend, store.scope(None))
    assert everyone.docs == 4 and everyone.df["cat"] == 2
    empty = _assert_matches_reference(backend, store.scope("nobody"))
    assert empty.docs == 0 and empty.avg_len == 0.0 and set(empty.df.values()) == {0}
    one = _stats(
        backend, store.scope("a"), ["dog"], [m.row_id for m in backend.recent(store.scope("a"), 10)]
    )
    assert sorted(len(v) for v in one.doc_terms.values()) == [3, 3, 3]
    assert any(list(v).count("dog") == 2 for v in one.doc_terms.values())


def test_other_tenants_do_not_count(sql_backend: MemoryBackend) -> None:
    backend = sql_backend
    with backend.engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(text("INSERT INTO tenants (id, name, created_at) VALUES ('t2', 'Other', 0)"))
    store = MemoryStore(backend, FakeEmbedder())  # one store serves both tenants
    t2 = RequestContext(tenant_id="t2")
    store.add("a", "the cat sleeps")
    store.add("a", "the cat purrs and the cat eats", context=t2)
    store.add("a", "a bird sings", context=t2)
    stats = _assert_matches_reference(backend, store.scope("a"))
    assert stats.docs == 1 and stats.df["cat"] == 1
    assert _assert_matches_reference(backend, store.scope("a", context=t2)).docs == 2
    store.delete_all("a", context=t2)
    assert _assert_matches_reference(backend, store.scope("a")).docs == 1


def test_stats_follow_add_update_delete_and_merge(backend: MemoryBackend) -> None:
    store = MemoryStore(backend, FakeEmbedder())
    scope = store.scope("a")
    first = store.add("a", "cat and dog in the garden")
    store.add_many("a", ["tea in the rain", "cat with tea", "tea in the rain"])
    assert _assert_matches_reference(backend, scope).df["tea"] == 2  # duplicate stored once
    store.update(first, text="a violin by the river")
    stats = _assert_matches_reference(backend, scope)
    assert stats.df["cat"] == 1 and stats.df["violin"] == 1 and stats.df["garden"] == 0
    store.update(first, importance=0.9, tags=["music"])  # no text change: same statistics
    assert _assert_matches_reference(backend, scope) == stats
    assert store.delete(first)
    stats = _assert_matches_reference(backend, scope)
    assert stats.docs == 2 and stats.df["violin"] == 0
    merging = MemoryStore(backend, FakeEmbedder(), near_duplicate_threshold=0.9)
    kept = merging.add("m", "the piano sounds bright in the hall")
    assert merging.add("m", "the piano sounds bright in the hall !") == kept
    merged = _assert_matches_reference(backend, merging.scope("m"))
    assert merged.docs == 1 and merged.df["piano"] == 1
    assert store.delete_all("a") == 2
    assert _assert_matches_reference(backend, scope).docs == 0
    if not isinstance(backend, SQLMemoryBackend):
        return  # the checks below are of the SQL backends' statistics tables
    with backend.engine.connect() as conn:
        left = conn.execute(
            text("SELECT count(*) FROM memory_scope_terms WHERE agent_id = 'a'")
        ).scalar_one()
        zero = conn.execute(
            text("SELECT count(*) FROM memory_scope_terms WHERE df <= 0")
        ).scalar_one()
        docs = conn.execute(
            text("SELECT count(*) FROM memory_scope_stats WHERE agent_id = 'a'")
        ).scalar_one()
    assert (left, zero, docs) == (0, 0, 0)  # no zero rows are left behind


def test_expired_memories_are_excluded(store: MemoryStore, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = store.backend
    scope = store.scope("a")
    short = store.add("a", "the mountain trail is closed", ttl=10)
    store.add("a", "the mountain lake is cold")
    store.add("a", "piano lessons on monday", expires_at=time.time() + 3600)
    ids = [m.row_id for m in backend.recent(scope, 10)]
    assert _stats(backend, scope, ["mountain"], ids).df["mountain"] == 2
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 60)
    stats = _assert_matches_reference(backend, scope)
    assert stats.docs == 2 and stats.df["mountain"] == 1
    gone = _stats(backend, scope, ["mountain"], ids)
    assert len(gone.doc_terms) == 2  # the expired row's terms are not reported either
    assert store.get(short) is None
    assert store.prune("a", threshold=0.0) == 1
    assert _assert_matches_reference(backend, scope).docs == 2


def test_random_operations_keep_stats_exact(backend: MemoryBackend) -> None:
    rng = random.Random(3)
    store = MemoryStore(backend, FakeEmbedder())
    uids: list[str] = []
    for step in range(60):
        op = rng.random()
        agent = rng.choice(["a", "b"])
        user = rng.choice(["u1", "u2", None])
        if op < 0.6 or not uids:
            sentence = " ".join(rng.choices(WORDS, k=rng.randint(1, 6))) + f" n{step % 7}"
            uids.append(store.add(agent, sentence, user_id=user))
        elif op < 0.8:
            uid = uids.pop(rng.randrange(len(uids)))
            store.delete(uid)
        else:
            uid = rng.choice(uids)
            with contextlib.suppress(InvalidInput):  # a duplicate text in its scope: refused
                store.update(uid, text=" ".join(rng.choices(WORDS, k=4)) + f" v{step}")
    for agent in ("a", "b", None):
        for user in ("u1", "u2", None):
            _assert_matches_reference(backend, store.scope(agent, user_id=user))


def test_search_uses_scope_statistics(store: MemoryStore) -> None:
    """A term common in another scope still counts as rare here (per-scope IDF)."""
    for i in range(30):
        store.add("other", f"violin practice number {i}")
    rare = store.add("a", "my violin teacher lives by the river")
    store.add("a", "the river is wide and the river is deep")
    store.add("a", "tea by the river every morning")
    hits = store.search("a", "violin river", k=3)
    assert hits[0].memory.uid == rare
    stats = _stats(store.backend, store.scope("a"), terms("violin river"), [])
    assert (stats.docs, stats.df["violin"], stats.df["river"]) == (3, 1, 3)


def test_upgrade_counts_existing_memories(sql_backend: MemoryBackend) -> None:
    backend = sql_backend
    store = MemoryStore(backend, FakeEmbedder())
    store.add_many("a", ["the cat naps", "a dog barks at the cat", "rain on the garden"])
    store.add("b", "tea and rain")
    before = _assert_matches_reference(backend, store.scope("a"))
    engine = backend.engine  # type: ignore[attr-defined]
    downgrade(engine, "0004")
    upgrade(engine)
    assert _assert_matches_reference(backend, store.scope("a")) == before
    assert _assert_matches_reference(backend, store.scope(None)).docs == 4


def test_large_scopes_query_their_rarest_terms(
    sql_backend: MemoryBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the size threshold, common terms whose postings overflow the budget are left
    out of the full-text query (rarest kept first); fusion still scores all terms."""
    backend = sql_backend
    from cerebra.memory import postgres, sqlite_search

    for module in (postgres, sqlite_search):
        monkeypatch.setattr(module, "TEXT_BUDGET_FROM_DOCS", 10)
        monkeypatch.setattr(module, "TEXT_POSTINGS_BUDGET", 5)
    store = MemoryStore(backend, FakeEmbedder())
    common = store.add_many("a", [f"the garden report {n}" for n in range(30)])
    rare = store.add("a", "the violin lesson")
    hits = backend.text_candidates(store.scope("a"), terms("garden violin"), 50)
    assert [backend.fetch([h.row_id])[0].uid for h in hits] == [rare]
    assert store.search("a", "garden violin", k=1)[0].memory.uid == rare
    small = backend.text_candidates(store.scope("a"), terms("garden"), 50)
    assert len(small) == len(common)  # a single term is always kept

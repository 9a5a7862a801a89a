"""Hybrid retrieval: fusion arithmetic, neighbour propagation, speaker bonus, real store path."""

from __future__ import annotations

from pathlib import Path

import pytest

from cerebra.memory import MemoryStore, SQLiteBackend
from cerebra.memory.base import Candidate, Memory
from cerebra.memory.retrieval import RetrievalWeights, fuse, named_speakers, turn_position
from cerebra.memory.text import terms
from cerebra.testing import FakeEmbedder

ONLY_RELEVANCE = RetrievalWeights(importance=0.0, salience=0.0, recency=0.0, speaker=0.0)


def _memory(row_id: int, **metadata: object) -> Memory:
    return Memory(
        uid=f"u{row_id}", text=f"text {row_id}", tenant_id="t", user_id="", agent_id="a",
        session_id="", tags=(), metadata=dict(metadata), importance=0.5, salience=0.0,
        source="user", created_at=0.0, updated_at=0.0, expires_at=None, row_id=row_id,
    )


def test_turn_position_reads_explicit_keys_and_dia_ids() -> None:
    assert turn_position({"session": 3, "turn": 4}) == ("3", 4)
    assert turn_position({"dia_id": "D12:7"}) == ("12", 7)
    assert turn_position({"dia_id": "D:11:26"}) is None
    assert turn_position({"turn": "x", "session": 1}) is None
    assert turn_position({}) is None


def test_scores_are_scaled_by_the_best_candidate() -> None:
    memories = {1: _memory(1), 2: _memory(2)}
    text = [Candidate(1, 8.0), Candidate(2, 2.0)]
    vec = [Candidate(2, 0.6), Candidate(1, 0.3)]
    hits = fuse(memories, text, vec, [], ONLY_RELEVANCE, now=0.0)
    by_row = {h.memory.row_id: h for h in hits}
    assert by_row[1].signals["text"] == pytest.approx(0.5)
    assert by_row[1].signals["vector"] == pytest.approx(0.25)
    assert by_row[2].signals["text"] == pytest.approx(0.125)
    assert by_row[2].signals["vector"] == pytest.approx(0.5)
    assert [h.memory.row_id for h in hits] == [1, 2]  # 0.75 > 0.625


def test_a_candidate_missing_from_the_vector_pool_gets_the_pool_floor() -> None:
    memories = {1: _memory(1), 2: _memory(2), 3: _memory(3)}
    vec = [Candidate(1, 0.8), Candidate(2, 0.4)]
    hits = fuse(memories, [Candidate(3, 1.0)], vec, [], ONLY_RELEVANCE, now=0.0)
    by_row = {h.memory.row_id: h for h in hits}
    assert by_row[3].signals["vector"] == pytest.approx(0.5 * 0.5)


def test_neighbours_lift_the_turn_after_a_strong_match() -> None:
    # turn 1 matches the query; turn 2 (the answer) and an unrelated far turn score alike.
    memories = {
        1: _memory(1, session=1, turn=1),
        2: _memory(2, session=1, turn=2),
        3: _memory(3, session=1, turn=9),
        4: _memory(4, session=2, turn=2),  # same turn number, other session: no lift
    }
    vec = [Candidate(1, 0.9), Candidate(2, 0.3), Candidate(3, 0.3), Candidate(4, 0.3)]
    weights = RetrievalWeights(
        importance=0.0, salience=0.0, recency=0.0, speaker=0.0, neighbours=0.5,
        neighbour_window=1,
    )
    by_row = {h.memory.row_id: h for h in fuse(memories, [], vec, [], weights, now=0.0)}
    assert by_row[2].signals["context"] == pytest.approx(0.5 * 0.5 * 1.0)
    assert by_row[2].score > by_row[3].score
    assert by_row[2].score > by_row[4].score
    off = RetrievalWeights(importance=0.0, salience=0.0, recency=0.0, neighbours=0.0)
    assert all("context" not in h.signals for h in fuse(memories, [], vec, [], off, now=0.0))


def test_speaker_bonus_needs_exactly_one_named_speaker() -> None:
    memories = {1: _memory(1, speaker="Caroline"), 2: _memory(2, speaker="Melanie")}
    vec = [Candidate(1, 0.5), Candidate(2, 0.5)]
    weights = RetrievalWeights(importance=0.0, salience=0.0, recency=0.0, speaker=0.2)
    one = fuse(memories, [], vec, terms("What did Melanie paint?"), weights, now=0.0)
    assert one[0].memory.row_id == 2 and one[0].signals["speaker"] == pytest.approx(0.2)
    both = fuse(memories, [], vec, terms("When did Caroline meet Melanie?"), weights, now=0.0)
    assert all("speaker" not in h.signals for h in both)
    assert named_speakers(terms("Caroline's painting"), {"Caroline", "Melanie"}) == {"Caroline"}


def test_store_search_uses_conversation_structure(tmp_path: Path) -> None:
    store = MemoryStore(SQLiteBackend(str(tmp_path / "m.db")), FakeEmbedder())
    lines = [
        ("Ann", "Did you finish the marathon in Boston?"),
        ("Bob", "Yes, three hours and ten minutes."),
        ("Ann", "My cat knocked over a plant today."),
        ("Bob", "Cats are like that sometimes."),
    ]
    for n, (speaker, line) in enumerate(lines):
        store.add("conv", f"{speaker}: {line}", metadata={"speaker": speaker, "session": 1,
                                                         "turn": n})
    hits = store.search("conv", "How long did Bob's marathon in Boston take?", k=2, explain=True)
    assert {h.memory.metadata["turn"] for h in hits} == {0, 1}
    assert any("context" in h.signals for h in hits)

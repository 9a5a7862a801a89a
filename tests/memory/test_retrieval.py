"""Hybrid retrieval: fusion arithmetic, per-scope BM25, neighbour / session / speaker / date
signals, and the real store path."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from cerebra.bench.locomo import ScopeStatsBackend
from cerebra.memory import MemoryStore, SQLiteBackend
from cerebra.memory.base import Candidate, Memory
from cerebra.memory.retrieval import (
    RetrievalWeights,
    date_closeness,
    fuse,
    named_speakers,
    self_contained,
    turn_position,
)
from cerebra.memory.text import TermStats, bm25, date_mentions, terms
from cerebra.testing import FakeEmbedder

ONLY_RELEVANCE = RetrievalWeights(
    importance=0.0, salience=0.0, recency=0.0, speaker=0.0, session=0.0, date=0.0
)


def _memory(row_id: int, created_at: float = 0.0, **metadata: object) -> Memory:
    return Memory(
        uid=f"u{row_id}",
        text=f"text {row_id}",
        tenant_id="t",
        user_id="",
        agent_id="a",
        session_id="",
        tags=(),
        metadata=dict(metadata),
        importance=0.5,
        salience=0.0,
        source="user",
        created_at=created_at,
        updated_at=0.0,
        expires_at=None,
        row_id=row_id,
    )


def test_turn_position_reads_the_general_fields_only() -> None:
    assert turn_position({"session": 3, "turn": 4}) == ("3", 4)
    assert turn_position({"session": "", "turn": 0}) == ("", 0)  # Brain's unnamed session
    assert turn_position({"dia_id": "D12:7"}) is None  # importers map their ids (LoCoMo does)
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
        importance=0.0,
        salience=0.0,
        recency=0.0,
        speaker=0.0,
        neighbours=0.5,
        neighbour_window=1,
        session=0.0,
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
    weights = RetrievalWeights(importance=0.0, salience=0.0, recency=0.0, speaker=0.2, date=0.0)
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
        store.add(
            "conv", f"{speaker}: {line}", metadata={"speaker": speaker, "session": 1, "turn": n}
        )
    hits = store.search("conv", "How long did Bob's marathon in Boston take?", k=2, explain=True)
    assert {h.memory.metadata["turn"] for h in hits} == {0, 1}
    assert any("context" in h.signals for h in hits)


def test_bm25_uses_the_scope_statistics_it_is_given() -> None:
    docs = {1: ["cello", "lesson"], 2: ["cello", "cello", "concert", "hall", "tonight"], 3: ["cat"]}
    stats = TermStats(docs=4, avg_len=3.0, df={"cello": 2, "cat": 1, "piano": 0}, doc_terms=docs)
    got = bm25(["cello", "piano", "cello"], stats, k1=1.2, b=0.75)
    assert set(got) == {1, 2}  # "piano" is in no memory; row 3 holds no query term
    common = math.log(1 + (4 - 2 + 0.5) / (2 + 0.5))
    rare = TermStats(docs=10, avg_len=3.0, df={"cello": 2}, doc_terms=docs)
    idf = math.log(1 + (10 - 2 + 0.5) / (2 + 0.5))
    assert bm25(["cello"], rare, k1=1.2, b=0.75)[1] == pytest.approx(got[1] * idf / common)
    got = bm25(["cello"], rare, k1=1.2, b=0.75)
    assert got[1] == pytest.approx(idf * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 2 / 3)))
    assert got[2] == pytest.approx(idf * 2 * 2.2 / (2 + 1.2 * (0.25 + 0.75 * 5 / 3)))
    assert 3 not in got


def test_date_mentions_read_common_forms() -> None:
    def days(text: str) -> list[tuple[str, str]]:
        iso = [
            (datetime.fromtimestamp(a), datetime.fromtimestamp(b))
            for a, b in date_mentions(terms(text))
        ]
        return [(a.date().isoformat(), b.date().isoformat()) for a, b in iso]

    assert days("What did Tim say on 16 November, 2023?") == [("2023-11-16", "2023-11-17")]
    assert days("tournaments won by July 10, 2022") == [("2022-07-10", "2022-07-11")]
    assert days("the book he read on 8th December, 2023") == [("2023-12-08", "2023-12-09")]
    assert days("a cake she made in May 2022") == [("2022-05-01", "2022-06-01")]
    assert days("an injury in 2023") == [("2023-01-01", "2024-01-01")]
    assert days("May I ask about the 12 cats?") == []
    assert days("on 31 February 2023") == [("2023-02-01", "2023-03-01")]


def test_date_signal_prefers_memories_from_the_named_day() -> None:
    day = datetime(2023, 11, 16, 14, 0).timestamp()
    memories = {1: _memory(1, created_at=day), 2: _memory(2, created_at=day - 30 * 86400)}
    vec = [Candidate(2, 0.6), Candidate(1, 0.5)]
    weights = RetrievalWeights(importance=0.0, salience=0.0, recency=0.0, date=0.4)
    hits = fuse(memories, [], vec, terms("What happened on 16 November, 2023?"), weights, 0.0)
    assert hits[0].memory.row_id == 1 and hits[0].signals["date"] == pytest.approx(0.4)
    start = datetime(2023, 11, 16).timestamp()
    away = (start - memories[2].created_at) / 86400.0
    assert hits[1].signals["date"] == pytest.approx(0.4 * math.exp(-away / 3.0))
    assert date_closeness(day, [], 3.0) == 0.0
    undated = fuse(memories, [], vec, terms("What happened?"), weights, 0.0)
    assert undated[0].memory.row_id == 2 and "date" not in undated[0].signals


def test_session_signal_favours_the_session_where_the_topic_was_discussed() -> None:
    memories = {
        1: _memory(1, session=1, turn=0),
        2: _memory(2, session=1, turn=5),
        3: _memory(3, session=1, turn=9),
        4: _memory(4, session=2, turn=0),
    }
    vec = [Candidate(1, 0.9), Candidate(2, 0.8), Candidate(3, 0.4), Candidate(4, 0.4)]
    weights = RetrievalWeights(
        importance=0.0, salience=0.0, recency=0.0, neighbours=0.0, session=0.2, session_top=2
    )
    by_row = {h.memory.row_id: h for h in fuse(memories, [], vec, [], weights, now=0.0)}
    assert by_row[3].signals["session"] == pytest.approx(0.2)
    # session 2 has one turn: its level is that turn's score; session 1's is its best two
    assert by_row[4].signals["session"] == pytest.approx(0.2 * (0.4 / 0.9) / ((1 + 0.8 / 0.9) / 2))
    assert by_row[3].score > by_row[4].score


def test_per_scope_statistics_make_a_scope_blind_to_other_scopes(tmp_path: Path) -> None:
    store = MemoryStore(ScopeStatsBackend(SQLiteBackend(str(tmp_path / "m.db"))), FakeEmbedder())
    for line in (
        "Ann: the cello lesson ran late",
        "Bob: my violin needs new strings",
        "Ann: cello strings are pricey",
        "Bob: the weather is grim",
    ):
        store.add("conv", line)
    before = [
        (h.memory.text, round(h.signals["text"], 9))
        for h in store.search("conv", "cello strings", k=3, explain=True)
    ]
    for n in range(40):  # another scope full of the query's words
        store.add("other", f"cello strings {n}")
    after = [
        (h.memory.text, round(h.signals["text"], 9))
        for h in store.search("conv", "cello strings", k=3, explain=True)
    ]
    assert before == after
    assert before[0][0] == "Ann: cello strings are pricey"


def test_self_contained_counts_words_of_memories_that_could_have_more() -> None:
    def memory(row_id: int, text: str) -> Memory:
        return replace(_memory(row_id), text=text)

    memories = {
        1: memory(1, " ".join(["a"] * 96)),  # 191 characters: cannot hold more than 96
        2: memory(2, " ".join(["a"] * 97)),  # 193 characters, 97 words: one past
        3: memory(3, "x" * 500),  # long, one word
        4: memory(4, " ".join(["word"] * 192)),
    }
    assert self_contained(memories, 96) == {2: 96 / 97, 4: 0.5}
    assert self_contained(memories, 0) == {}


def test_every_hit_scores_the_sum_of_its_signals_and_ranks_by_it() -> None:
    memories = {i: _memory(i, created_at=86400.0 * i, session=i % 3, turn=i, speaker="Ann")
                for i in range(30)}
    memories[5] = replace(memories[5], salience=7.0)  # clamped to 1
    memories[6] = replace(memories[6], salience=-3.0)  # clamped to -1
    text = [Candidate(i, float(i % 7)) for i in range(0, 30, 2)]
    vec = [Candidate(i, 1.0 - i / 40) for i in range(30)]
    hits = fuse(memories, text, vec, terms("what did Ann say on 3 January 1970?"),
                RetrievalWeights(), now=86400.0 * 40)
    assert len(hits) == 30
    for hit in hits:
        assert hit.score == sum(hit.signals.values())
        assert {"vector", "importance", "salience", "recency", "speaker", "date"} <= set(
            hit.signals)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    by_row = {h.memory.row_id: h.signals for h in hits}
    assert by_row[5]["salience"] == pytest.approx(0.05) and by_row[6]["salience"] == (
        pytest.approx(-0.05))
    assert by_row[0]["recency"] == pytest.approx(0.05 * 0.5 ** (40 / 30))
    # a neighbour's score reaches the turns next to it (and the session's level)
    assert "context" in by_row[10] and "session" in by_row[10]

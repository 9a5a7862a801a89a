"""The relevance floor: absolute evidence on each hit (raw cosine, IDF-weighted coverage of
the query) and the floor Brain applies before injecting memories."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from cerebra.memory.base import Memory, MemoryHit
from cerebra.memory.relevance import COSINE, COVERAGE, RelevanceFloor, coverage, floor_of
from cerebra.memory.retrieval import RetrievalWeights
from cerebra.memory.sqlite import SQLiteBackend
from cerebra.memory.store import MemoryStore
from cerebra.memory.text import TermStats
from cerebra.testing import FakeEmbedder

NOTES = ["Alice prefers tea to coffee", "Bob parks his bicycle behind the library",
         "The quarterly report is due on Friday"]


def _hit(evidence: dict[str, float]) -> MemoryHit:
    memory = Memory("u", "t", "default", "", "", "", (), {}, 0.5, 0.0, "user", 0.0, 0.0, None)
    return MemoryHit(memory, 1.0, {}, evidence)


def test_coverage_weighs_terms_by_rarity_and_counts_unknown_ones_against() -> None:
    stats = TermStats(docs=10, avg_len=3.0, df={"tea": 1, "alic": 9},
                      doc_terms={1: ["alic", "tea"], 2: ["alic", "bob"]})
    held = coverage(["alic", "tea"], stats)
    assert held[1] == pytest.approx(1.0)
    assert 0 < held[2] < 0.5  # the common term is worth less than the rare one
    unknown = coverage(["alic", "tea", "quark"], stats)  # no memory holds "quark"
    assert unknown[1] < 0.7
    # only the rows asked for (a search's top k), with the same values; unknown rows skipped
    assert coverage(["alic", "tea"], stats, [2, 7]) == {2: held[2]}
    assert coverage(["alic", "tea"], stats, []) == {}


def test_floor_keeps_what_reaches_it() -> None:
    floor = RelevanceFloor(floor=0.5, coverage_weight=0.5)
    strong, weak = _hit({COSINE: 0.4, COVERAGE: 0.4}), _hit({COSINE: 0.3, COVERAGE: 0.2})
    assert floor.keep([strong, weak]) == [strong]
    assert RelevanceFloor(floor=0.0).keep([strong, weak]) == [strong, weak]
    assert floor.admits(_hit({}))  # no evidence (a backend that gives none): not judged
    assert RelevanceFloor.from_dict(floor.to_dict()) == floor


def test_weights_carry_the_floor() -> None:
    weights = RetrievalWeights(relevance_floor=0.3, relevance_coverage_weight=1.0)
    assert floor_of(weights) == RelevanceFloor(0.3, 1.0)


def _store(tmp_path: Path, embedder: Any, **weights: float) -> MemoryStore:
    store = MemoryStore(SQLiteBackend(str(tmp_path / "m.db")), embedder,
                        weights=RetrievalWeights(**weights))
    store.add_many("a", NOTES)
    return store


def test_search_reports_evidence_and_relevant_only_applies_the_floor(tmp_path: Path) -> None:
    store = _store(tmp_path, FakeEmbedder(), relevance_floor=0.42)
    hits = store.search("a", "Explain quantum chromodynamics", k=5)
    assert len(hits) == 3 and all(COSINE in h.evidence for h in hits)
    assert all(h.evidence[COVERAGE] == 0.0 for h in hits)
    assert store.search("a", "Explain quantum chromodynamics", k=5, relevant_only=True) == []
    kept = store.search("a", "Does Alice prefer tea?", k=5, relevant_only=True)
    assert [h.memory.text for h in kept] == [NOTES[0]]
    store.weights = replace(store.weights, relevance_floor=0.0)  # a scope's own floor
    assert len(store.search("a", "Explain quantum chromodynamics", k=5,
                            relevant_only=True)) == 3
    store.backend.close()


@pytest.mark.slow
def test_minilm_unrelated_question_injects_nothing(tmp_path: Path, minilm: Any) -> None:
    from cerebra.config import Settings
    from cerebra.memory.configured import retrieval_weights

    shipped = retrieval_weights(Settings())
    store = _store(tmp_path, minilm, relevance_floor=shipped.relevance_floor,
                   relevance_coverage_weight=shipped.relevance_coverage_weight)
    assert store.search("a", "Explain quantum chromodynamics", k=5, relevant_only=True) == []
    assert store.search("a", "How do I reverse a linked list?", k=5, relevant_only=True) == []
    kept = store.search("a", "What does Alice like to drink?", k=5, relevant_only=True)
    assert [h.memory.text for h in kept][:1] == [NOTES[0]]
    store.backend.close()

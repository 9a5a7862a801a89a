"""The relevance floor: whether a recalled memory is evidence for the query at all.

Fused scores (cerebra.memory.retrieval) are relative: each signal is divided by the query's
best candidate, so the top hit of a query about "quantum chromodynamics" scores as well in a
store of tea preferences as the top hit of a tea question does. Whether anything relevant
was found needs absolute evidence, measured against the query alone:

- `cosine`: the raw cosine similarity of query and memory embeddings (the vector pool's own
  score; a memory outside the pool gets the pool's lowest, an upper bound);
- `coverage`: the share of the query's content, weighted by IDF in the scope, that the
  memory contains (0..1). A query term no memory of the scope holds counts in full against
  every memory: the store does not know about it. Without the scope's statistics
  (a backend without `term_stats`) coverage is unknown and left out.

`relevance = cosine + coverage_weight * coverage` is compared with a floor. Both values
are fields of RetrievalWeights (`relevance_floor`, `relevance_coverage_weight`), so they are
kept, stored and learned per scope with the fusion weights; `RelevanceFloor` applies them.
The defaults (settings `memory.relevance_floor` and `memory.relevance_coverage_weight`)
were calibrated with
`benchmarks/relevance_floor.py` for all-MiniLM-L6-v2 (the figures are in its docstring).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from cerebra.memory.base import Candidate, MemoryHit
from cerebra.memory.text import TermStats

COSINE = "cosine"
COVERAGE = "coverage"


@dataclass(frozen=True)
class RelevanceFloor:
    """The threshold a memory's absolute relevance must reach to be injected.

    `floor` <= 0 injects everything (no floor); `coverage_weight` is how much full-text
    coverage of the query adds to the cosine similarity."""

    floor: float = 0.0
    coverage_weight: float = 0.5

    def relevance(self, evidence: Mapping[str, float]) -> float:
        """The combined absolute relevance of one hit's evidence."""
        return float(evidence.get(COSINE, 0.0)) + self.coverage_weight * float(
            evidence.get(COVERAGE, 0.0)
        )

    def admits(self, hit: MemoryHit) -> bool:
        """Whether the hit clears the floor (always, without a floor or without evidence)."""
        if self.floor <= 0 or not hit.evidence:
            return True
        return self.relevance(hit.evidence) >= self.floor

    def keep(self, hits: Sequence[MemoryHit]) -> list[MemoryHit]:
        """The hits that clear the floor, in their order."""
        return [h for h in hits if self.admits(h)]

    def to_dict(self) -> dict[str, float]:
        return {"floor": self.floor, "coverage_weight": self.coverage_weight}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> RelevanceFloor:
        """A floor from stored values (unknown keys ignored, missing ones defaulted)."""
        base = cls()
        return cls(
            floor=float(raw.get("floor", base.floor)),
            coverage_weight=float(raw.get("coverage_weight", base.coverage_weight)),
        )


class FloorWeights(Protocol):
    """Where a scope's floor is kept: RetrievalWeights, stored and learned with the weights."""

    @property
    def relevance_floor(self) -> float: ...

    @property
    def relevance_coverage_weight(self) -> float: ...


def floor_of(weights: FloorWeights) -> RelevanceFloor:
    """The relevance floor a set of retrieval weights carries."""
    return RelevanceFloor(weights.relevance_floor, weights.relevance_coverage_weight)


def _idf(df: int, docs: int) -> float:
    """Lucene's IDF, as BM25 uses; a term no document holds gets the rarest term's weight."""
    n = max(docs, 1)
    df = min(max(df, 0), n)
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


def coverage(
    query_terms: Sequence[str], stats: TermStats, rows: Iterable[int] | None = None
) -> dict[int, float]:
    """IDF-weighted share of the query's distinct terms held by each row of `stats` (only
    those of `rows` that it has, when given: a search needs it for its top k, not for its
    few hundred candidates)."""
    unique = [t for t in dict.fromkeys(query_terms) if t]
    weights = {t: _idf(int(stats.df.get(t, 0)), stats.docs) for t in unique}
    total = sum(weights.values())
    if total <= 0:
        return {}
    out: dict[int, float] = {}
    docs = stats.doc_terms
    wanted = docs.items() if rows is None else ((r, docs[r]) for r in rows if r in docs)
    for row_id, doc in wanted:
        held = set(doc)
        out[row_id] = sum(w for t, w in weights.items() if t in held) / total
    return out


def with_evidence(
    hits: Sequence[MemoryHit],
    vector_pool: Sequence[Candidate],
    query_terms: Sequence[str],
    stats: TermStats | None,
) -> list[MemoryHit]:
    """The hits with their absolute evidence (cosine, and coverage when `stats` is known)."""
    cosines = {c.row_id: float(c.score) for c in vector_pool}
    pool_floor = min(cosines.values(), default=0.0)
    covered = (None if stats is None
               else coverage(query_terms, stats, [h.memory.row_id for h in hits]))
    out = []
    for hit in hits:
        evidence = {COSINE: cosines.get(hit.memory.row_id, pool_floor)}
        if covered is not None:
            evidence[COVERAGE] = covered.get(hit.memory.row_id, 0.0)
        out.append(replace(hit, evidence=evidence))
    return out

"""Retrieval's graph view: signals from the entities memories mention (cerebra.memory.graph).

For a query and its candidates (both pools of cerebra.memory.retrieval):
- `entity`: the query's entities — those of the candidates' entities whose stemmed words all
  occur among the query's terms — weighted by their inverse document frequency in the
  scope; a candidate scores the share of that weight it mentions (0..1);
- `hop`: multi-hop expansion. The `top` best first-hop candidates (by their text+vector
  score) pass a share of their score to the memories that mention one of their entities:
  memory m gets max over hits h of score(h) × (idf weight of the entities m shares with h)
  / (idf weight of h's entities). Entities in more than `hub_share` of the scope's
  memories (a speaker, "today") link everything and are skipped. Memories outside the
  pools that share an entity are brought in (up to `expand` of them) when the search has
  no tag or metadata filter;
- `centrality`: a memory's degree in the candidates' graph (how many other candidates
  share one of its entities, counted per entity), log-scaled and divided by the largest
  (a weak prior).

Names are matched on their stemmed words (cerebra.memory.text.terms), the form queries
reach retrieval in, so no signature changes upstream.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from cerebra.memory.base import Candidate, Scope, SearchCandidates
from cerebra.memory.text import terms


class GraphReader(Protocol):
    """What the graph view reads (cerebra.memory.graph.MemoryGraph)."""

    def mentions(self, row_ids: Sequence[int]) -> dict[int, dict[str, int]]: ...

    def document_frequency(self, scope: Scope, keys: Sequence[str]) -> dict[str, int]: ...

    def sharing(self, scope: Scope, keys: Sequence[str], limit: int) -> dict[int, set[str]]: ...


@dataclass(frozen=True)
class GraphKnobs:
    """Sizes of the graph view (weights live in RetrievalWeights)."""

    top: int = 5
    hub_share: float = 0.1
    expand: int = 50


@dataclass
class GraphView:
    """Per-candidate graph signals (0..1 each) and the memories expansion brought in."""

    entity: dict[int, float] = field(default_factory=dict)
    hop: dict[int, float] = field(default_factory=dict)
    centrality: dict[int, float] = field(default_factory=dict)
    added: list[int] = field(default_factory=list)


@lru_cache(maxsize=65_536)
def _stems(key: str) -> tuple[str, ...]:
    return tuple(terms(key))


def _normalised(cands: Sequence[Candidate]) -> dict[int, float]:
    top = max((c.score for c in cands), default=0.0)
    return {c.row_id: max(c.score, 0.0) / top for c in cands} if top > 0 else {}


def first_hop(
    text_hits: Sequence[Candidate], vec_hits: Sequence[Candidate], w_text: float, w_vec: float
) -> dict[int, float]:
    """The text+vector score of every candidate (as fusion's base, without pool floors)."""
    t, v = _normalised(text_hits), _normalised(vec_hits)
    return {i: w_text * t.get(i, 0.0) + w_vec * v.get(i, 0.0) for i in {*t, *v}}


def graph_view(
    reader: GraphReader,
    scope: Scope,
    query_terms: Sequence[str],
    base: Mapping[int, float],
    docs: int,
    knobs: GraphKnobs,
    *,
    expand: bool,
    want: tuple[bool, bool, bool] = (True, True, True),
) -> GraphView:
    """The graph signals of the candidates in `base` (row id → first-hop score); `docs` is
    the scope's memory count; `want` switches entity, hop and centrality."""
    view = GraphView()
    if not base:
        return view
    ids = list(base)
    mentions = reader.mentions(ids)
    if not mentions:
        return view
    qset = set(query_terms)
    in_query = {
        k for m in mentions.values() for k in m if _stems(k) and all(s in qset for s in _stems(k))
    }
    ranked = sorted(base, key=lambda i: -base[i])[: max(knobs.top, 0)]
    hop_keys = {k for i in ranked for k in mentions.get(i, {})} if want[1] else set()
    df = reader.document_frequency(scope, sorted(in_query | hop_keys))
    n = max(docs, 1, *df.values()) if df else max(docs, 1)

    def idf(key: str) -> float:
        return math.log(1.0 + n / max(df.get(key, 1), 1))

    if want[0] and in_query:
        total = sum(idf(k) for k in in_query)
        for row_id, m in mentions.items():
            share = sum(idf(k) for k in in_query if k in m)
            if share > 0:
                view.entity[row_id] = share / total
    if want[1] and ranked:
        hub = max(2.0, knobs.hub_share * n)
        best = base[ranked[0]] or 1.0
        sources = []
        for h in ranked:
            keys = {k for k in mentions.get(h, {}) if df.get(k, 0) <= hub}
            if keys:
                sources.append((h, base[h] / best, keys, sum(idf(k) for k in keys)))
        linked: dict[int, set[str]] = {r: set(m) for r, m in mentions.items()}
        if expand and sources and knobs.expand > 0:
            wanted = sorted({k for s in sources for k in s[2]})
            for row_id, keys in reader.sharing(scope, wanted, knobs.expand * 4).items():
                if row_id not in linked and len(view.added) < knobs.expand:
                    view.added.append(row_id)
                    linked[row_id] = keys
        for row_id, keys in linked.items():
            score = 0.0
            for h, level, hkeys, weight in sources:
                if h != row_id and weight > 0:
                    shared = sum(idf(k) for k in hkeys & keys)
                    score = max(score, level * shared / weight)
            if score > 0:
                view.hop[row_id] = score
    if want[2]:  # candidates linked through each entity
        among: dict[str, int] = {}
        for m in mentions.values():
            for k in m:
                among[k] = among.get(k, 0) + 1
        degree = {r: math.log1p(sum(among[k] - 1 for k in m)) for r, m in mentions.items()}
        top = max(degree.values(), default=0.0)
        if top > 0:
            view.centrality = {r: d / top for r, d in degree.items()}
    return view


def signals(view: GraphView, row_id: int, weights: Any) -> dict[str, float]:
    """The weighted graph signals of one memory (weights: RetrievalWeights)."""
    out: dict[str, float] = {}
    for name, part, w in (
        ("graph_entity", view.entity, weights.graph_entity),
        ("graph_hop", view.hop, weights.graph_hop),
        ("graph_centrality", view.centrality, weights.graph_centrality),
    ):
        if w and row_id in part:
            out[name] = w * part[row_id]
    return out


def graph_for(
    backend: Any,
    scope: Scope,
    query_terms: Sequence[str],
    text_hits: Sequence[Candidate],
    found: SearchCandidates,
    weights: Any,
    tags: Sequence[str],
) -> GraphView | None:
    """The graph view of a search, or None when the weights or the backend have none.

    Memories that expansion brings in are fetched into `found.memories`. A filtered view
    (cerebra.memory.filtered, which holds `_where`) or a tag filter turns expansion off: the
    rows it adds would not have passed the filter."""
    wanted = (weights.graph_entity > 0, weights.graph_hop > 0, weights.graph_centrality > 0)
    make = getattr(backend, "memory_graph", None)
    if not any(wanted) or not callable(make):
        return None
    reader = make()
    base = first_hop(text_hits, found.vector, weights.text, weights.vector)
    base = {i: s for i, s in base.items() if i in found.memories}
    docs = found.stats.docs if found.stats is not None else len(found.memories)
    knobs = GraphKnobs(weights.graph_top, weights.graph_hub_share, weights.graph_expand)
    expand = not tags and getattr(backend, "_where", None) is None
    view = graph_view(reader, scope, query_terms, base, docs, knobs, expand=expand, want=wanted)
    if view.added:
        for memory in backend.fetch(view.added):
            found.memories.setdefault(memory.row_id, memory)
    return view

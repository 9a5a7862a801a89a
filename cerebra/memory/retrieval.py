"""Hybrid retrieval: turn backend candidates into one ranked list of memories.

Signals, each scaled to 0..1 and weighted:
- `text`: full-text BM25, divided by the query's best BM25 score. When the backend offers
  `term_stats` (per-scope document count, mean length, document frequencies and the
  candidates' indexed terms), BM25 is computed here from the scope's own statistics, for
  every candidate of both pools; otherwise the backend's native score is used;
- `vector`: dense cosine similarity, divided by the query's best similarity; for a long
  memory with passage vectors (cerebra.memory.passages) the best of its whole-text vector
  and its passages;
- `context`: conversation structure. A memory that is a turn of a conversation (metadata
  `session` and `turn`: Brain records them for every exchange it stores, imports such as
  LoCoMo map their own turn ids onto them) inherits a decaying share of the
  text+vector score of its neighbouring turns in the same session: for distance d = 1..window
  it adds `neighbours ** d` times the better of the two turns at that distance. Questions are
  often answered by the turn after the one that matches them ("How was it?" → "Great, we …"),
  and a turn's meaning often lives in its neighbours. Long memories (those long enough to
  get passage vectors) carry their own context: they give and take a share of the spread that
  shrinks with their length (`context_words`);
- `session`: the mean of the best few text+vector scores of a turn's session, relative to
  the best session: evidence clusters in the sessions where the topic was discussed;
- `speaker`: when the query names exactly one of the candidates' speakers (metadata
  `speaker`), that speaker's own turns get this bonus;
- `date`: when the query names a date ("on 16 November, 2023", "in May 2022"), memories
  created on (or `date_tau_days` around) it get up to this bonus;
- `importance`, `salience`, `recency`: the memory's own signals.

Backends only produce candidates; ranking lives here so SQLite and PostgreSQL rank alike.
A backend may gather everything fusion needs in one call (`search_candidates`, returning
`SearchCandidates`: both pools, their rows, the scope's statistics); `gather_candidates`
builds the same from the protocol's methods for backends that do not.
Candidate pools are large (a brute-force or HNSW vector query for a few hundred rows is
cheap) because neighbour propagation needs the scores of moderately similar turns too; a
turn outside a pool is given that pool's lowest score, an upper bound on its true one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cerebra.memory.base import (
    Candidate,
    Memory,
    MemoryBackend,
    MemoryHit,
    Scope,
    SearchCandidates,
)
from cerebra.memory.graph_rank import GraphView, graph_for
from cerebra.memory.graph_rank import signals as graph_signals
from cerebra.memory.passages import LONG_WORDS, with_passages
from cerebra.memory.query_vectors import QueryVector, vector_now
from cerebra.memory.relevance import with_evidence
from cerebra.memory.text import TermStats, bm25, date_mentions, terms

SPEAKER_KEY = "speaker"
SESSION_KEY = "session"
TURN_KEY = "turn"


@dataclass(frozen=True)
class RetrievalWeights:
    """How much each signal adds to a hit's score (all signals are scaled to 0..1).

    `text` and `vector` split the relevance evidence evenly; `neighbours` is the per-turn
    decay of score spread along a conversation, `neighbour_window` how many turns it
    reaches and `context` the weight of that spread score; `session` weighs the session
    signal over its `session_top` best turns;
    `context_words` makes that spread length-aware: a memory longer than this many words
    (by default exactly the memories that get passage vectors, cerebra.memory.passages)
    gives and takes only `context_words` / its length of it (0: no damping);
    `speaker` is the bonus for turns spoken by the one person the query names; `date` the
    bonus for memories from a date the query names; `bm25_k1` and `bm25_b` are BM25's
    parameters when it is computed from per-scope statistics (short turns favour low b).
    `facts` weighs facts in time (cerebra.memory.temporal): a memory whose statements are
    out of date at the moment the query asks about loses up to this much, one stating the
    then-current value of what the query asks about, of whom it asks, gains as much.
    `relevance_floor` and `relevance_coverage_weight` decide which hits are worth injecting
    into a prompt at all (cerebra.memory.relevance); they do not change the ranking.
    """

    text: float = 0.5
    vector: float = 0.5
    importance: float = 0.05
    salience: float = 0.05
    recency: float = 0.05
    recency_half_life_days: float = 30.0
    candidates: int = 200
    neighbours: float = 0.6
    context: float = 1.0
    neighbour_window: int = 2
    context_words: int = LONG_WORDS
    session: float = 0.1
    session_top: int = 3
    speaker: float = 0.3
    date: float = 0.4
    date_tau_days: float = 3.0
    bm25_k1: float = 0.9
    bm25_b: float = 0.4
    facts: float = 0.5
    relevance_floor: float = 0.0
    relevance_coverage_weight: float = 0.5
    graph_entity: float = 0.0
    graph_hop: float = 0.0
    graph_centrality: float = 0.0
    graph_top: int = 5
    graph_hub_share: float = 0.1
    graph_expand: int = 50


def turn_position(metadata: Mapping[str, Any]) -> tuple[str, int] | None:
    """(session, turn index) of a conversation turn, from its `session` and `turn`."""
    session, turn = metadata.get(SESSION_KEY), metadata.get(TURN_KEY)
    if session is not None and turn is not None:
        try:
            return str(session), int(turn)
        except (TypeError, ValueError):
            return None
    return None


def _normalised(cands: Sequence[Candidate]) -> tuple[dict[int, float], float]:
    """Scores divided by the best one (negatives clipped) and the pool's floor on that scale."""
    top = max((c.score for c in cands), default=0.0)
    if top <= 0:
        return {}, 0.0
    scaled = {c.row_id: max(c.score, 0.0) / top for c in cands}
    return scaled, min(scaled.values())


def named_speakers(query_terms: Sequence[str], speakers: set[str]) -> set[str]:
    """Speakers whose whole (normalised) name occurs among the query's terms."""
    wanted = set(query_terms)
    found = set()
    for name in speakers:
        name_terms = terms(name)
        if name_terms and all(t in wanted for t in name_terms):
            found.add(name)
    return found


Position = tuple[str, str, int]  # (memory session_id, conversation session, turn index)


def _positions(memories: Mapping[int, Memory]) -> dict[int, Position]:
    """Where each candidate that is a conversation turn sits in its conversation."""
    out: dict[int, Position] = {}
    for row_id, memory in memories.items():
        pos = turn_position(memory.metadata)
        if pos is not None:
            out[row_id] = (memory.session_id, pos[0], pos[1])
    return out


def _context_scores(
    position: Mapping[int, Position],
    base: Mapping[int, float],
    floor: float,
    weights: RetrievalWeights,
    own: Mapping[int, float] | None = None,
) -> dict[int, float]:
    """Decayed best-neighbour score for each candidate that is a conversation turn; `own`
    (0..1 per row, default 1: see self_contained) scales both what a turn lends its
    neighbours and what it takes from them."""
    if weights.neighbours <= 0 or weights.neighbour_window <= 0:
        return {}
    share = own or {}
    by_position: dict[Position, float] = {}
    for row_id, key in position.items():
        value = base.get(row_id, floor) * share.get(row_id, 1.0)
        held = by_position.get(key, 0.0)
        by_position[key] = value if value > held else held
    # (written out rather than with max(): this runs for every candidate of every search)
    decay = [(d, weights.neighbours**d) for d in range(1, weights.neighbour_window + 1)]
    at = by_position.get
    out: dict[int, float] = {}
    for row_id, (conv, session, turn) in position.items():
        total = 0.0
        for d, weight in decay:
            best = at((conv, session, turn + d), floor)
            if turn - d >= 0:
                before = at((conv, session, turn - d), floor)
                if before > best:
                    best = before
            total += weight * best
        out[row_id] = total * share.get(row_id, 1.0)
    return out


def self_contained(memories: Mapping[int, Memory], words: int) -> dict[int, float]:
    """The share of neighbour context for memories longer than `words` words: `words` / its
    length (1, left out, for the rest). A short turn's meaning lives in its neighbours; a
    memory of several passage windows carries its own context, and lending its score to
    the short turns around it ranks them above other evidence."""
    if words <= 0:
        return {}
    out = {}
    for row_id, memory in memories.items():
        if (len(memory.text) + 1) // 2 <= words:  # too few characters for more words
            continue
        n = len(memory.text.split())
        if n > words:
            out[row_id] = words / n
    return out


def _session_scores(
    position: Mapping[int, Position], base: Mapping[int, float], weights: RetrievalWeights
) -> dict[int, float]:
    """Mean of the `session_top` best base scores of each turn's session, over the best one."""
    if weights.session <= 0:
        return {}
    members: dict[tuple[str, str], list[float]] = {}
    for row_id, (conv, session, _) in position.items():
        members.setdefault((conv, session), []).append(base.get(row_id, 0.0))
    top = max(1, weights.session_top)
    level = {}
    for k, v in members.items():
        best_of = sorted(v, reverse=True)[:top]
        level[k] = sum(best_of) / len(best_of)
    best = max(level.values(), default=0.0)
    if best <= 0:
        return {}
    return {row_id: level[p[0], p[1]] / best for row_id, p in position.items()}


def date_closeness(
    created_at: float, dates: Sequence[tuple[float, float]], tau_days: float
) -> float:
    """1 inside a named date's interval, decaying as exp(-days away / tau) outside it."""
    best = 0.0
    for start, end in dates:
        days = max(0.0, start - created_at, created_at - end) / 86400.0
        best = max(best, math.exp(-days / max(tau_days, 1e-6)))
    return best


def fuse(
    memories: Mapping[int, Memory],
    text_hits: Sequence[Candidate],
    vec_hits: Sequence[Candidate],
    query_terms: Sequence[str],
    weights: RetrievalWeights,
    now: float,
    graph: GraphView | None = None,
    stale: Mapping[int, float] | None = None,
) -> list[MemoryHit]:
    """Score every fetched candidate from its pools, its neighbours and its own signals."""
    w = weights
    text_norm, _ = _normalised(text_hits)
    vec_norm, vec_floor = _normalised(vec_hits)
    base = {
        row_id: w.text * text_norm.get(row_id, 0.0) + w.vector * vec_norm.get(row_id, vec_floor)
        for row_id in memories
    }
    position = _positions(memories)
    own = self_contained(memories, w.context_words)
    context = _context_scores(position, base, w.vector * vec_floor, w, own)
    session = _session_scores(position, base, w)
    speakers = {
        str(m.metadata[SPEAKER_KEY]) for m in memories.values() if m.metadata.get(SPEAKER_KEY)
    }
    named = named_speakers(query_terms, speakers) if w.speaker else set()
    dates = date_mentions(query_terms) if w.date else []
    hits: list[MemoryHit] = []
    # every candidate of every search passes here: the weights are read once, and the
    # clamps are written out (the same arithmetic, in the same order, as min/max gave)
    w_text, w_vector, w_context, w_session = w.text, w.vector, w.context, w.session
    w_importance, w_salience, w_recency = w.importance, w.salience, w.recency
    half_life, neg_ln2 = w.recency_half_life_days, -math.log(2)
    speaker = next(iter(named)) if len(named) == 1 else None
    stale = stale or None
    exp = math.exp
    for row_id, memory in memories.items():
        sig: dict[str, float] = {}
        if row_id in text_norm:
            sig["text"] = w_text * text_norm[row_id]
        sig["vector"] = w_vector * vec_norm.get(row_id, vec_floor)
        if row_id in context:
            sig["context"] = w_context * context[row_id]
        if row_id in session:
            sig["session"] = w_session * session[row_id]
        if speaker is not None and memory.metadata.get(SPEAKER_KEY) == speaker:
            sig["speaker"] = w.speaker
        created = memory.created_at
        if dates:
            sig["date"] = w.date * date_closeness(created, dates, w.date_tau_days)
        if graph is not None:
            sig.update(graph_signals(graph, row_id, w))
        if stale is not None and row_id in stale:
            sig["facts"] = w.facts * stale[row_id]
        age = now - created
        age_days = (age if age > 0.0 else 0.0) / 86400.0
        salience = memory.salience
        salience = -1.0 if salience < -1.0 else (1.0 if salience > 1.0 else salience)
        sig["importance"] = w_importance * memory.importance
        sig["salience"] = w_salience * salience
        sig["recency"] = w_recency * exp(neg_ln2 * age_days / half_life)
        hits.append(MemoryHit(memory, sum(sig.values()), sig))
    hits.sort(key=lambda h: (-h.score, -h.memory.created_at, h.memory.row_id))
    return hits


def scope_stats(
    backend: MemoryBackend, scope: Scope, query_terms: Sequence[str], row_ids: Sequence[int]
) -> TermStats | None:
    """The scope's BM25 statistics for `row_ids`; None if the backend cannot say."""
    term_stats = getattr(backend, "term_stats", None)
    unique = [t for t in dict.fromkeys(query_terms) if t]
    if not callable(term_stats) or not unique:
        return None
    stats = term_stats(scope, unique, list(row_ids))
    return stats if isinstance(stats, TermStats) else None


def gather_candidates(
    backend: MemoryBackend,
    scope: Scope,
    query_terms: Sequence[str],
    query_vector: QueryVector,
    limit: int,
    tags: Sequence[str] = (),
) -> SearchCandidates:
    """Both candidate pools, scope statistics and rows, through the protocol's methods."""
    text_hits = backend.text_candidates(scope, query_terms, limit, tags)
    vec_hits = backend.vector_candidates(scope, vector_now(query_vector), limit, tags)
    row_ids = list(dict.fromkeys([c.row_id for c in text_hits] + [c.row_id for c in vec_hits]))
    stats = scope_stats(backend, scope, query_terms, row_ids)
    memories = {m.row_id: m for m in backend.fetch(row_ids)}
    return SearchCandidates(text_hits, vec_hits, memories, stats)


def hybrid_search(
    backend: MemoryBackend,
    scope: Scope,
    query_terms: Sequence[str],
    query_vector: QueryVector,
    *,
    k: int,
    weights: RetrievalWeights,
    tags: Sequence[str] = (),
    now: float | None = None,
    stale: Callable[[Mapping[int, Memory]], Mapping[int, float]] | None = None,
) -> list[MemoryHit]:
    """Fuse full-text and vector candidates with conversation context and memory signals;
    `stale` scores each candidate's statements at the query's moment (-1..1, facts in time).
    `query_vector` may still be being computed (cerebra.memory.query_vectors): a backend
    that `overlaps_query_embedding` waits for it only when its vector half begins."""
    if k <= 0:
        return []
    pool = max(weights.candidates, k)
    gather = getattr(backend, "search_candidates", None)
    if not getattr(backend, "overlaps_query_embedding", False):
        query_vector = vector_now(query_vector)
    if callable(gather):
        found = gather(scope, query_terms, query_vector, pool, tags)
    else:
        found = gather_candidates(backend, scope, query_terms, query_vector, pool, tags)
    query_vector = vector_now(query_vector)
    text_hits = found.text
    vec_hits = with_passages(backend, found, query_vector)
    unique = [t for t in dict.fromkeys(query_terms) if t]
    if found.stats is not None and unique:  # BM25 from the scope's own statistics
        scores = bm25(unique, found.stats, k1=weights.bm25_k1, b=weights.bm25_b)
        text_hits = [Candidate(row_id, score) for row_id, score in scores.items()]
    now = time.time() if now is None else now
    graph = graph_for(backend, scope, query_terms, text_hits, found, weights, tags)
    stale_rows = None if stale is None else stale(found.memories)
    hits = fuse(
        found.memories, text_hits, vec_hits, query_terms, weights, now, graph, stale_rows
    )[:k]
    return with_evidence(hits, vec_hits, unique, found.stats)


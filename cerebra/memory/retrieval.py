"""Hybrid retrieval: turn backend candidates into one ranked list of memories.

Signals, each scaled to 0..1 and weighted:
- `text`: full-text BM25, divided by the query's best BM25 score;
- `vector`: dense cosine similarity, divided by the query's best similarity;
- `context`: conversation structure. A memory that is a turn of a conversation (metadata
  `session` and `turn`, or a `dia_id` such as "D3:5") inherits a decaying share of the
  text+vector score of its neighbouring turns in the same session: for distance d = 1..window
  it adds `neighbours ** d` times the better of the two turns at that distance. Questions are
  often answered by the turn after the one that matches them ("How was it?" → "Great, we …"),
  and a turn's meaning often lives in its neighbours;
- `speaker`: when the query names exactly one of the candidates' speakers (metadata
  `speaker`), that speaker's own turns get this bonus;
- `importance`, `salience`, `recency`: the memory's own signals.

Backends only produce candidates; ranking lives here so SQLite and PostgreSQL rank alike.
Candidate pools are large (a brute-force or HNSW vector query for a few hundred rows is
cheap) because neighbour propagation needs the scores of moderately similar turns too; a
turn outside a pool is given that pool's lowest score, an upper bound on its true one.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cerebra.memory.base import Candidate, Memory, MemoryBackend, MemoryHit, Scope
from cerebra.memory.text import terms

SPEAKER_KEY = "speaker"
SESSION_KEY = "session"
TURN_KEY = "turn"
DIA_ID_KEY = "dia_id"
_DIA_ID = re.compile(r"^D(\d+):(\d+)$")


@dataclass(frozen=True)
class RetrievalWeights:
    """How much each signal adds to a hit's score (all signals are scaled to 0..1).

    `text` and `vector` split the relevance evidence evenly; `neighbours` is the per-turn
    decay of score spread along a conversation and `neighbour_window` how many turns it
    reaches; `speaker` is the bonus for turns spoken by the one person the query names.
    """

    text: float = 0.5
    vector: float = 0.5
    importance: float = 0.05
    salience: float = 0.05
    recency: float = 0.05
    recency_half_life_days: float = 30.0
    candidates: int = 200
    neighbours: float = 0.6
    neighbour_window: int = 2
    speaker: float = 0.15


def turn_position(metadata: Mapping[str, Any]) -> tuple[str, int] | None:
    """(session, turn index) of a conversation turn, from `session`+`turn` or a `dia_id`."""
    session, turn = metadata.get(SESSION_KEY), metadata.get(TURN_KEY)
    if session is not None and turn is not None:
        try:
            return str(session), int(turn)
        except (TypeError, ValueError):
            return None
    dia = metadata.get(DIA_ID_KEY)
    if isinstance(dia, str):
        match = _DIA_ID.match(dia.strip())
        if match:
            return match.group(1), int(match.group(2))
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


def _context_scores(
    memories: Mapping[int, Memory],
    base: Mapping[int, float],
    floor: float,
    weights: RetrievalWeights,
) -> dict[int, float]:
    """Decayed best-neighbour score for each candidate that is a conversation turn."""
    if weights.neighbours <= 0 or weights.neighbour_window <= 0:
        return {}
    position: dict[int, tuple[str, str, int]] = {}
    by_position: dict[tuple[str, str, int], float] = {}
    for row_id, memory in memories.items():
        pos = turn_position(memory.metadata)
        if pos is None:
            continue
        key = (memory.session_id, pos[0], pos[1])
        position[row_id] = key
        by_position[key] = max(by_position.get(key, 0.0), base.get(row_id, floor))
    out: dict[int, float] = {}
    for row_id, (conv, session, turn) in position.items():
        total = 0.0
        for d in range(1, weights.neighbour_window + 1):
            sides = [by_position.get((conv, session, turn + d), floor)]
            if turn - d >= 0:
                sides.append(by_position.get((conv, session, turn - d), floor))
            total += weights.neighbours**d * max(sides)
        out[row_id] = total
    return out


def fuse(
    memories: Mapping[int, Memory],
    text_hits: Sequence[Candidate],
    vec_hits: Sequence[Candidate],
    query_terms: Sequence[str],
    weights: RetrievalWeights,
    now: float,
) -> list[MemoryHit]:
    """Score every fetched candidate from its pools, its neighbours and its own signals."""
    w = weights
    text_norm, _ = _normalised(text_hits)
    vec_norm, vec_floor = _normalised(vec_hits)
    base = {
        row_id: w.text * text_norm.get(row_id, 0.0) + w.vector * vec_norm.get(row_id, vec_floor)
        for row_id in memories
    }
    context = _context_scores(memories, base, w.vector * vec_floor, w)
    speakers = {
        str(m.metadata[SPEAKER_KEY]) for m in memories.values() if m.metadata.get(SPEAKER_KEY)
    }
    named = named_speakers(query_terms, speakers) if w.speaker else set()
    hits: list[MemoryHit] = []
    for row_id, memory in memories.items():
        sig: dict[str, float] = {}
        if row_id in text_norm:
            sig["text"] = w.text * text_norm[row_id]
        sig["vector"] = w.vector * vec_norm.get(row_id, vec_floor)
        if row_id in context:
            sig["context"] = context[row_id]
        if len(named) == 1 and memory.metadata.get(SPEAKER_KEY) in named:
            sig["speaker"] = w.speaker
        age_days = max(0.0, now - memory.created_at) / 86400.0
        sig["importance"] = w.importance * memory.importance
        sig["salience"] = w.salience * max(-1.0, min(1.0, memory.salience))
        sig["recency"] = w.recency * math.exp(-math.log(2) * age_days / w.recency_half_life_days)
        hits.append(MemoryHit(memory, sum(sig.values()), sig))
    hits.sort(key=lambda h: (-h.score, -h.memory.created_at, h.memory.row_id))
    return hits


def hybrid_search(
    backend: MemoryBackend,
    scope: Scope,
    query_terms: Sequence[str],
    query_vector: np.ndarray,
    *,
    k: int,
    weights: RetrievalWeights,
    tags: Sequence[str] = (),
    now: float | None = None,
) -> list[MemoryHit]:
    """Fuse full-text and vector candidates with conversation context and memory signals."""
    if k <= 0:
        return []
    pool = max(weights.candidates, k)
    text_hits = backend.text_candidates(scope, query_terms, pool, tags)
    vec_hits = backend.vector_candidates(scope, query_vector, pool, tags)
    row_ids = list(dict.fromkeys([c.row_id for c in text_hits] + [c.row_id for c in vec_hits]))
    memories = {m.row_id: m for m in backend.fetch(row_ids)}
    now = time.time() if now is None else now
    return fuse(memories, text_hits, vec_hits, query_terms, weights, now)[:k]

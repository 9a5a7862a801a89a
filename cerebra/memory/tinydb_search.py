"""The TinyDB backend's candidate side: per-scope BM25 statistics, the tag and filter
narrowing of a scope's rows, and the text candidate pool, from decoded rows
(cerebra.memory.tinydb_rows) in one pass over a scope.

The statistics describe the live memories of the query's scope, exactly what the SQL
backends keep in their statistics tables (cerebra.memory.termstats), so MemoryStore ranks
a TinyDB store as it ranks a SQL one. Scoring is cerebra.memory.text.bm25 with its default
parameters for the candidate pool; fusion rescores the pool with the configured ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from cerebra.memory.base import Candidate
from cerebra.memory.filter_match import matches
from cerebra.memory.filters import Node
from cerebra.memory.text import TermStats, bm25
from cerebra.memory.tinydb_rows import Row


def unique_terms(terms: Iterable[str]) -> list[str]:
    return [t for t in dict.fromkeys(terms) if t]


def scope_stats(rows: Sequence[Row], terms: Sequence[str], row_ids: Iterable[int]) -> TermStats:
    """Documents, mean length and document frequency of each of `terms` over `rows` (a
    scope's live rows), with the indexed terms of those of `row_ids` that are among them."""
    df = dict.fromkeys(unique_terms(terms), 0)
    wanted = set(df)
    total = 0
    by_id: dict[int, list[str]] = {}
    for r in rows:
        by_id[r.memory.row_id] = r.terms
        total += len(r.terms)
        for t in wanted.intersection(r.term_set):
            df[t] += 1
    return TermStats(
        docs=len(rows),
        avg_len=total / len(rows) if rows else 0.0,
        df=df,
        doc_terms={int(i): by_id[int(i)] for i in row_ids if int(i) in by_id},
    )


def narrow(rows: list[Row], tags: Sequence[str], where: Node | None) -> list[Row]:
    """Those of a scope's `rows` that carry one of `tags` and pass the filter `where`."""
    if not tags and where is None:
        return rows
    wanted = set(tags)
    return [
        r
        for r in rows
        if (not wanted or not wanted.isdisjoint(r.memory.tags)) and matches(where, r.memory)
    ]


def text_pool(
    allowed: Sequence[Row], stats: TermStats, terms: Sequence[str], limit: int
) -> list[Candidate]:
    """The `limit` best rows of `allowed` by BM25 under the scope's `stats`, best first."""
    unique = unique_terms(terms)
    if not unique or limit <= 0:
        return []
    wanted = set(unique)
    holding = {r.memory.row_id: r.terms for r in allowed if not wanted.isdisjoint(r.term_set)}
    scores = bm25(unique, TermStats(stats.docs, stats.avg_len, stats.df, holding))
    best = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return [Candidate(row_id, score) for row_id, score in best]

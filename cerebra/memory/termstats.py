"""Per-scope BM25 statistics in SQL: kept in step with every write, read back as TermStats.

Two tables (migration 0005) hold, for each stored scope (tenant, agent, user, session), the
number of memories and the sum of their term counts (`memory_scope_stats`), and for each of
its terms the number of memories containing it (`memory_scope_terms`). Writers collect the
changes of one transaction in a `StatsDelta` (every inserted, re-texted or deleted memory's
indexed terms) and `flush` it in that same transaction, so the statistics are never out of
step with the rows. Upserts go in sorted key order, so concurrent PostgreSQL writers lock
rows in the same order and cannot deadlock each other.

The tables count expired memories until `prune` deletes them; `read_term_stats` subtracts
the scope's expired rows (found through the expiry index, normally none or few), so the
statistics describe exactly the live memories a query can see. A query scope may leave
user, agent or session open ("any"); the statistics of every stored scope it covers add up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, text

from cerebra.memory.base import Scope
from cerebra.memory.text import TermStats

ScopeKey = tuple[str, str, str, str]  # stored (tenant_id, agent_id, user_id, session_id)
DocTerms = Callable[[Connection, Sequence[int]], Mapping[int, str]]

_UPSERT_DOCS = (
    "INSERT INTO memory_scope_stats (tenant_id, agent_id, user_id, session_id, docs, "
    "total_len) VALUES (:t, :a, :u, :s, :d, :n) ON CONFLICT (tenant_id, agent_id, user_id, "
    "session_id) DO UPDATE SET docs = memory_scope_stats.docs + excluded.docs, "
    "total_len = memory_scope_stats.total_len + excluded.total_len"
)
_DROP_DOCS = (
    "DELETE FROM memory_scope_stats WHERE tenant_id = :t AND agent_id = :a AND "
    "user_id = :u AND session_id = :s AND docs <= 0"
)
_UPSERT_TERMS = (
    "INSERT INTO memory_scope_terms (tenant_id, agent_id, term, user_id, session_id, df) "
    "VALUES (:t, :a, :w, :u, :s, :d) ON CONFLICT (tenant_id, agent_id, term, user_id, "
    "session_id) DO UPDATE SET df = memory_scope_terms.df + excluded.df"
)
_DROP_TERMS = (
    "DELETE FROM memory_scope_terms WHERE tenant_id = :t AND agent_id = :a AND term = :w "
    "AND user_id = :u AND session_id = :s AND df <= 0"
)


def scope_key(scope: Scope) -> ScopeKey:
    """The stored scope of a memory written with `scope` (None stored as "")."""
    return (scope.tenant_id, scope.agent_id or "", scope.user_id or "", scope.session_id or "")


def scope_where(scope: Scope, alias: str) -> tuple[str, dict[str, Any]]:
    """Rows of every stored scope that `scope` covers (None: any value)."""
    filters = scope.as_filters()
    where = " AND ".join(f"{alias}.{name} = :s_{name}" for name in filters)
    return where, {f"s_{name}": value for name, value in filters.items()}


class StatsDelta:
    """Changes to per-scope statistics made by one transaction, written by `flush`."""

    def __init__(self) -> None:
        self.docs: dict[ScopeKey, list[int]] = {}
        self.df: dict[tuple[ScopeKey, str], int] = {}

    def add(self, key: ScopeKey, terms: str, sign: int) -> None:
        """Count a memory with indexed `terms` in (sign +1) or out of (sign -1) its scope."""
        tokens = terms.split()
        entry = self.docs.setdefault(key, [0, 0])
        entry[0] += sign
        entry[1] += sign * len(tokens)
        for term in set(tokens):
            self.df[(key, term)] = self.df.get((key, term), 0) + sign

    def flush(self, conn: Connection) -> None:
        """Apply the changes (upserts, then deletion of counts that reached zero)."""
        docs = sorted((k, v) for k, v in self.docs.items() if v[0] or v[1])
        df = sorted((k, v) for k, v in self.df.items() if v)
        if docs:
            conn.execute(
                text(_UPSERT_DOCS),
                [{**_key(k), "d": v[0], "n": v[1]} for k, v in docs],
            )
        if df:
            conn.execute(text(_UPSERT_TERMS), [{**_key(k), "w": w, "d": v} for (k, w), v in df])
        shrunk_docs = [_key(k) for k, v in docs if v[0] < 0]
        if shrunk_docs:
            conn.execute(text(_DROP_DOCS), shrunk_docs)
        shrunk_terms = [{**_key(k), "w": w} for (k, w), v in df if v < 0]
        if shrunk_terms:
            conn.execute(text(_DROP_TERMS), shrunk_terms)
        self.docs.clear()
        self.df.clear()


def _key(key: ScopeKey) -> dict[str, str]:
    return {"t": key[0], "a": key[1], "u": key[2], "s": key[3]}


def rarest_within(unique: Sequence[str], df: Mapping[str, int], budget: int) -> list[str]:
    """Query terms rarest first while their document frequencies sum to at most `budget`
    (at least one term): the postings a full-text engine reads, and the terms that carry
    the most BM25 weight. All of them when they fit."""
    if sum(df.get(t, 0) for t in unique) <= budget:
        return list(unique)
    kept: list[str] = []
    total = 0
    for term in sorted(unique, key=lambda t: df.get(t, 0)):
        if kept and total + df.get(term, 0) > budget:
            break
        kept.append(term)
        total += df.get(term, 0)
    return kept


Counts = tuple[int, int, dict[str, int]]  # documents, total length, df of each asked term


def _counts_sql(scope: Scope, wanted: Sequence[str]) -> tuple[str, str, dict[str, Any]]:
    """The two queries of `scope_counts` (":name" parameters) and their parameters."""
    where, params = scope_where(scope, "s")
    marks = ", ".join(f":w{i}" for i in range(len(wanted)))
    return (
        f"SELECT sum(s.docs), sum(s.total_len) FROM memory_scope_stats s WHERE {where}",
        f"SELECT s.term, sum(s.df) FROM memory_scope_terms s WHERE {where} "
        f"AND s.term IN ({marks}) GROUP BY s.term",
        {**params, **{f"w{i}": t for i, t in enumerate(wanted)}},
    )


def scope_counts(conn: Connection, scope: Scope, terms: Sequence[str]) -> Counts:
    """Documents, total length and document frequencies in `scope`, expired rows included
    (two primary-key lookups; `read_term_stats` subtracts expired rows)."""
    wanted = [t for t in dict.fromkeys(terms) if t]
    totals, per_term, params = _counts_sql(scope, wanted)
    row = conn.execute(text(totals), params).one()
    found = conn.execute(text(per_term), params).all() if wanted else []
    return _counts(row, found, wanted)


def scope_counts_raw(cursor: Any, scope: Scope, terms: Sequence[str]) -> Counts:
    """`scope_counts` through a DB-API cursor whose driver takes ":name" parameters
    (sqlite3: the search path's cursor, without SQLAlchemy's statement handling)."""
    wanted = [t for t in dict.fromkeys(terms) if t]
    totals, per_term, params = _counts_sql(scope, wanted)
    cursor.execute(totals, params)
    row = cursor.fetchone()
    found = cursor.execute(per_term, params).fetchall() if wanted else []
    return _counts(row, found, wanted)


def _counts(row: Any, found: Any, wanted: Sequence[str]) -> Counts:
    df = dict.fromkeys(wanted, 0)
    df.update((str(term), int(n)) for term, n in found)
    return int(row[0] or 0), int(row[1] or 0), df


def read_term_stats(
    conn: Connection,
    scope: Scope,
    terms: Sequence[str],
    row_ids: Sequence[int],
    doc_terms: DocTerms,
    now: float,
    counts: Counts | None = None,
    gone: set[int] | None = None,
) -> TermStats:
    """Statistics of the live memories in `scope`: counts from the tables (or `counts`, read
    by `scope_counts` in the same transaction), minus expired rows (`gone`: their ids, when
    the caller read them); `doc_terms(conn, ids)` gives the indexed terms of rows by id."""
    docs, total, df = counts if counts is not None else scope_counts(conn, scope, terms)
    df = dict(df)
    if gone is None:
        where, params = scope_where(scope, "m")
        expired = conn.execute(
            text(
                f"SELECT m.id FROM memories m WHERE {where} AND m.expires_at IS NOT NULL "
                "AND m.expires_at <= :now"
            ),
            {**params, "now": now},
        ).all()
        gone = {int(r[0]) for r in expired}
    ids = list(dict.fromkeys(int(i) for i in row_ids))
    texts = doc_terms(conn, ids + sorted(gone.difference(ids)))
    return live_stats((docs, total, df), ids, gone, texts)


def live_stats(counts: Counts, ids: Sequence[int], gone: set[int],
               texts: Mapping[int, str]) -> TermStats:
    """The scope's `counts` minus its expired rows `gone`, with the indexed terms (`texts`,
    by row id) of the asked rows `ids` that are live."""
    docs, total, df = counts[0], counts[1], dict(counts[2])
    for row_id in gone:
        tokens = texts.get(row_id, "").split()
        docs -= 1
        total -= len(tokens)
        for term in set(tokens).intersection(df):
            df[term] -= 1
    return TermStats(
        docs=max(docs, 0),
        avg_len=total / docs if docs > 0 else 0.0,
        df={t: max(n, 0) for t, n in df.items()},
        doc_terms={i: texts[i].split() for i in ids if i in texts and i not in gone},
    )

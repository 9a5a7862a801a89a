"""PostgreSQL's search path: everything fusion needs for one query in one statement.

`hybrid_search` asks a backend for both candidate pools, their rows and the scope's BM25
statistics (`SearchCandidates`). Through the protocol's separate methods that is about a
dozen statements on PostgreSQL (the scope's counts, the full-text query, the vector query
with its settings, the statistics again with the expired rows and the candidates' terms,
the rows); here it is one statement of common table expressions, answered as one row of
JSON values, so a search costs one round trip to the server:

- `df`, `st`: the scope's document frequencies of the query's terms and its counts
  (memory_scope_terms / memory_scope_stats, as cerebra.memory.termstats reads them);
- `kept`: the query's terms, rarest first while their postings fit TEXT_POSTINGS_BUDGET in
  scopes of TEXT_BUDGET_FROM_DOCS memories or more (`rarest_within`, in SQL);
- `t`: full text, ts_rank over the kept terms' tsquery, read from the narrow `memory_text`
  table (revision 0036; the memories' rows joined only for tag or metadata filters);
  `v`: vectors, the HNSW index's inner-product order with the scope, tag and metadata
  filters inside the scan;
- `ex`: the scope's expired rows, whose terms the statistics subtract;
- the rows (COLUMNS and indexed terms) of every candidate and expired row.

The HNSW settings (`hnsw.ef_search`, `hnsw.iterative_scan`) and the planner's
`random_page_cost` are set once per pooled connection, at session level, instead of SET
LOCAL in each search's transaction; the statement runs in autocommit, so no BEGIN or
ROLLBACK travels either. `random_page_cost` is 1.1 (PostgreSQL's default of 4 prices a
random read as on a spinning disk): with 4, a scope of 10k memories was planned as a
sequential scan computing every row's distance (16 ms of a 23 ms statement, EXPLAIN ANALYZE
on the embedded server) instead of the HNSW index (1.3-1.9 ms); at 100k the index was chosen
either way. Results equal the
protocol path's (tests/memory/test_postgres_search.py compares them).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from sqlalchemy import Connection, Engine, text

from cerebra.memory.base import Candidate, Scope, SearchCandidates
from cerebra.memory.filters import Node
from cerebra.memory.sqlvocab import COLUMNS, N_COLUMNS, memory_from_row, scope_sql, tag_sql
from cerebra.memory.termstats import live_stats

_SESSION_KEY = "cerebra_hnsw_ef_search"
RANDOM_PAGE_COST = 1.1  # a random page read as on SSD or in memory (see the module's notes)


class SearchHost(Protocol):
    """What this path uses of its backend (cerebra.memory.postgres.PostgresBackend)."""

    engine: Engine

    def where_sql(self, where: Node | None, alias: str = "m") -> tuple[str, dict[str, Any]]: ...


def ef_search(limit: int) -> int:
    """The HNSW candidate list a query of `limit` results runs with."""
    return max(100, min(1000, 2 * limit))


def _session_settings(conn: Connection, ef: int) -> None:
    """Iterative scans, `ef` and the planner's random page cost on this pooled connection,
    once (its info dict remembers)."""
    info = conn.connection.info
    if info.get(_SESSION_KEY) == ef:
        return
    conn.exec_driver_sql(f"SET hnsw.iterative_scan = relaxed_order; SET hnsw.ef_search = {ef}; "
                         f"SET random_page_cost = {RANDOM_PAGE_COST}")
    info[_SESSION_KEY] = ef


def _stats_where(scope: Scope, alias: str) -> tuple[str, dict[str, Any]]:
    """Every stored scope `scope` covers (termstats' rule), with this module's names."""
    filters = scope.as_filters()
    where = " AND ".join(f"{alias}.{name} = :ps_{name}" for name in filters)
    return where, {f"ps_{name}": value for name, value in filters.items()}


_QUOTED = r"'''' || replace(replace(k.term, '\', '\\'), '''', '''''') || ''''"


def statement(
    host: SearchHost,
    scope: Scope,
    dim: int,
    limit: int,
    tags: Sequence[str],
    where: Node | None,
    now: float,
    text_budget_from_docs: int,
    text_postings_budget: int,
) -> tuple[str, dict[str, Any]]:
    """The one statement and its parameters (`:words` and `:qv` are the caller's)."""
    live, live_params = scope_sql(scope, now=now)
    text_live, _ = scope_sql(scope, "x", now=now)  # the same parameters, on memory_text
    tags_where, tag_params = tag_sql(tags)
    filt, filt_params = host.where_sql(where)
    rows_join = " JOIN memories m ON m.id = x.id" if tags_where or filt else ""
    stats_s, stats_params = _stats_where(scope, "s")
    stats_m, _ = _stats_where(scope, "m")
    distance = f"(m.embedding_vec::vector({dim}) <#> CAST(:qv AS vector({dim})))"
    sql = f"""
WITH words AS (
  SELECT w.term, w.ord FROM unnest(CAST(:words AS text[])) WITH ORDINALITY AS w(term, ord)),
st AS (
  SELECT coalesce(sum(s.docs), 0) AS docs, coalesce(sum(s.total_len), 0) AS total
  FROM memory_scope_stats s WHERE {stats_s}),
df AS (
  SELECT w.term, w.ord, coalesce((SELECT sum(s.df) FROM memory_scope_terms s
                                  WHERE s.term = w.term AND {stats_s}), 0) AS n
  FROM words w),
ranked AS (
  SELECT term, n, sum(n) OVER (ORDER BY n, ord) AS cum,
         row_number() OVER (ORDER BY n, ord) AS rn FROM df),
kept AS (
  SELECT r.term FROM ranked r, st
  WHERE st.docs < {int(text_budget_from_docs)}
     OR (SELECT sum(n) FROM df) <= {int(text_postings_budget)}
     OR r.rn = 1 OR r.cum <= {int(text_postings_budget)}),
q AS (SELECT to_tsquery('simple', string_agg({_QUOTED}, ' | ')) AS q FROM kept k),
t AS (
  SELECT x.id, ts_rank(x.tsv, (SELECT q.q FROM q), 1)::float8 AS rank
  FROM memory_text x{rows_join}
  WHERE x.tsv @@ (SELECT q.q FROM q) AND {text_live}{tags_where}{filt}
  ORDER BY 2 DESC, x.id LIMIT {int(limit)}),
v AS (
  SELECT m.id, {distance} AS dist FROM memories m
  WHERE m.embedding_dim = {int(dim)} AND {live}{tags_where}{filt}
  ORDER BY {distance} LIMIT {int(limit)}),
ex AS (
  SELECT m.id FROM memories m
  WHERE {stats_m} AND m.expires_at IS NOT NULL
    AND m.expires_at <= :ps_now),
ids AS (SELECT id FROM t UNION SELECT id FROM v UNION SELECT id FROM ex)
SELECT
  (SELECT json_agg(json_build_array(t.id, t.rank) ORDER BY t.rank DESC, t.id) FROM t),
  (SELECT json_agg(json_build_array(v.id, v.dist)) FROM v),
  (SELECT json_build_array(st.docs, st.total) FROM st),
  (SELECT json_object_agg(df.term, df.n) FROM df),
  (SELECT json_agg(ex.id) FROM ex),
  (SELECT json_agg(json_build_array({COLUMNS}, m.terms))
     FROM memories m JOIN ids ON ids.id = m.id)
"""
    params = {**live_params, **tag_params, **filt_params, **stats_params, "ps_now": now}
    return sql, params


def search_candidates(
    host: SearchHost,
    scope: Scope,
    query_terms: Sequence[str],
    vector: np.ndarray,
    limit: int,
    tags: Sequence[str] = (),
    where: Node | None = None,
    *,
    text_budget_from_docs: int,
    text_postings_budget: int,
    vector_literal: Any,
) -> SearchCandidates:
    """Both pools (at most `limit` each, best first), their rows and the scope's stats."""
    unique = [t for t in dict.fromkeys(query_terms) if t]
    query = np.asarray(vector, dtype=np.float32).reshape(-1)
    if limit <= 0:
        return SearchCandidates([], [], {}, None)
    now = time.time()
    sql, params = statement(host, scope, int(query.shape[0]), limit, tags, where, now,
                            text_budget_from_docs, text_postings_budget)
    params.update(words=unique, qv=vector_literal(query))
    with host.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        _session_settings(conn, ef_search(limit))
        row = conn.execute(text(sql), params).one()
    text_rows, vec_rows = row[0] or [], row[1] or []
    counts, df_found, expired, rows = row[2] or [0, 0], row[3] or {}, row[4] or [], row[5] or []
    by_id = {int(r[0]): r for r in rows}
    text_hits = [Candidate(int(i), float(s)) for i, s in text_rows]
    vec_hits = [Candidate(int(i), -float(d)) for i, d in vec_rows]
    vec_hits.sort(key=lambda c: -c.score)  # relaxed order: re-sort the few rows returned
    ids = [*dict.fromkeys([c.row_id for c in text_hits] + [c.row_id for c in vec_hits])]
    memories = {i: memory_from_row(by_id[i]) for i in ids if i in by_id}
    stats = None
    if unique:
        df = {t: int(df_found.get(t, 0) or 0) for t in unique}
        texts = {i: str(r[N_COLUMNS] or "") for i, r in by_id.items()}
        stats = live_stats((int(counts[0] or 0), int(counts[1] or 0), df), ids,
                           {int(i) for i in expired}, texts)
    return SearchCandidates(text_hits, vec_hits, memories, stats)

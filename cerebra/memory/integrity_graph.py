"""The knowledge graph's integrity check (cerebra.memory.integrity): each memory's mentions
and relations (`memory_mentions`, `memory_relations`, cerebra.memory.graph_store) must be
exactly what extraction finds in its text, and none may belong to a row that is gone.

Kinds: `missing_graph` (a memory whose text names entities has none stored), `stale_graph`
(the stored entities or relations differ from its text's), `orphan_graph` (graph rows of a
deleted memory). Repair rewrites a memory's graph from its text the way a write does
(`clear_graph` + `write_graph`, in one transaction) and deletes orphan rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, text

from cerebra.memory.embedders import Embedder
from cerebra.memory.graph_extract import extract
from cerebra.memory.graph_store import clear_graph, write_graph
from cerebra.memory.integrity_report import IntegrityCheck, Problem

Relation = tuple[str, str, str]


def graph_check(backend: Any) -> IntegrityCheck | None:
    """The graph check for a SQL backend that keeps the graph tables; None otherwise."""
    from cerebra.memory.sqlbase import SQLMemoryBackend

    if isinstance(backend, SQLMemoryBackend) and callable(getattr(backend, "memory_graph", None)):
        return GraphCheck()
    return None


def _stored(conn: Connection) -> tuple[dict[int, set[str]], dict[int, set[Relation]]]:
    keys: dict[int, set[str]] = {}
    for memory_id, entity in conn.execute(text("SELECT memory_id, entity FROM memory_mentions")):
        keys.setdefault(int(memory_id), set()).add(str(entity))
    relations: dict[int, set[Relation]] = {}
    for memory_id, s, p, o in conn.execute(
        text("SELECT memory_id, subject, predicate, object FROM memory_relations")
    ):
        relations.setdefault(int(memory_id), set()).add((str(s), str(p), str(o)))
    return keys, relations


class GraphCheck:
    """Mentions and relations against the rows' texts."""

    name = "graph"

    def verify(self, backend: Any, dimension: int | None) -> tuple[int, list[Problem]]:
        problems: list[Problem] = []
        with backend.engine.connect() as conn:
            rows = conn.execute(text("SELECT id, uid, text FROM memories ORDER BY id")).all()
            keys, relations = _stored(conn)
        live = {int(r.id) for r in rows}
        for r in rows:
            found = extract(r.text)
            want_keys = found.keys()
            want_rel = {(x.subject, x.predicate, x.object) for x in found.relations}
            have_keys = keys.get(int(r.id), set())
            have_rel = relations.get(int(r.id), set())
            if want_keys == have_keys and want_rel == have_rel:
                continue
            kind = "missing_graph" if not have_keys and not have_rel else "stale_graph"
            problems.append(Problem(kind, int(r.id), r.uid, f"{len(have_keys)} entities and "
                                    f"{len(have_rel)} relations stored, the text has "
                                    f"{len(want_keys)} and {len(want_rel)}", check=self.name))
        for row_id in sorted((set(keys) | set(relations)) - live):
            problems.append(Problem("orphan_graph", row_id, "", "graph rows of a deleted memory",
                                    check=self.name))
        return len(rows), problems

    def repair(self, backend: Any, problems: Sequence[Problem], embedder: Embedder) -> int:
        rewrite = sorted({p.row_id for p in problems if p.kind != "orphan_graph"})
        orphans = sorted({p.row_id for p in problems if p.kind == "orphan_graph"})
        with backend.engine.begin() as conn:
            if orphans:
                clear_graph(conn, orphans)
            for start in range(0, len(rewrite), 500):
                marks = ", ".join(str(i) for i in rewrite[start : start + 500])
                rows = conn.execute(text(
                    f"SELECT id, tenant_id, text FROM memories WHERE id IN ({marks})")).all()
                clear_graph(conn, [int(r.id) for r in rows])
                for r in rows:
                    write_graph(conn, int(r.id), r.tenant_id, r.text)
        return len(rewrite) + len(orphans)

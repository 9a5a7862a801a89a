"""The facts-in-time integrity check (cerebra.memory.integrity): the statements memories
make (`memory_facts`, cerebra.memory.supersession) must belong to live rows of the same
scope, and every statement's validity must be what walking its timeline gives.

Statements themselves are not re-derived from the text: they may come from the rule-based
extractor, an edited profile or another extractor, so the rows' texts cannot say which are
right. What is derived, and so checked and rebuilt, is the rest:

- `orphan_facts`: statements of a memory that is gone (SQLite without foreign keys, a
  restored table); repair deletes them and recomputes the timelines they were in;
- `facts_scope`: a statement whose tenant, user or agent differs from its memory's; repair
  moves it to its memory's scope and recomputes both timelines;
- `facts_timeline`: a statement whose valid_from, valid_to, superseded_by or opens differs
  from a recompute of its timeline (an interrupted write, a hand edit); repair recomputes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, text

from cerebra.memory.embedders import Embedder
from cerebra.memory.integrity_report import IntegrityCheck, Problem
from cerebra.memory.supersession import Key, recompute, validity


def facts_check(backend: Any) -> IntegrityCheck | None:
    """The facts check for a SQL backend that keeps memory_facts; None otherwise."""
    from cerebra.memory.sqlbase import SQLMemoryBackend

    if isinstance(backend, SQLMemoryBackend) and callable(getattr(backend, "fact_states", None)):
        return FactsCheck()
    return None


def _facts(conn: Connection) -> list[Any]:
    return list(conn.execute(text(
        "SELECT f.id, f.memory_id, f.tenant_id, f.user_id, f.agent_id, f.subject, "
        "f.attribute, f.value, f.stated_at, f.valid_from, f.valid_to, f.superseded_by, "
        "f.opens, m.uid, "
        "m.tenant_id AS m_tenant, m.user_id AS m_user, m.agent_id AS m_agent "
        "FROM memory_facts f LEFT JOIN memories m ON m.id = f.memory_id ORDER BY f.id"
    )).all())


def _key(r: Any) -> Key:
    return (r.tenant_id, r.user_id, r.agent_id, r.subject, r.attribute)


def _expected(rows: Sequence[Any]) -> dict[int, tuple[Any, ...]]:
    """Each statement's validity as walking its timeline gives it (supersession.validity,
    the walk every write runs), from the rows already read."""
    timelines: dict[Key, list[Any]] = {}
    for r in sorted(rows, key=lambda r: (float(r.stated_at), int(r.memory_id), int(r.id))):
        timelines.setdefault(_key(r), []).append(r)
    out: dict[int, tuple[Any, ...]] = {}
    for timeline in timelines.values():
        for u in validity(timeline):
            out[int(u["id"])] = (u["vf"], u["vt"], u["sb"], u["o"])
    return out


class FactsCheck:
    """Statements against their rows, validity against a recompute of the timelines."""

    name = "facts"

    def verify(self, backend: Any, dimension: int | None) -> tuple[int, list[Problem]]:
        problems: list[Problem] = []
        with backend.engine.connect() as conn:
            rows = _facts(conn)
        live = [r for r in rows if r.uid is not None]
        expected = _expected([r for r in live if (r.tenant_id, r.user_id, r.agent_id)
                              == (r.m_tenant, r.m_user, r.m_agent)])
        for r in rows:
            if r.uid is None:
                problems.append(Problem("orphan_facts", int(r.memory_id), "",
                                        f"statement {r.subject} {r.attribute} of a deleted "
                                        "memory", check=self.name))
            elif (r.tenant_id, r.user_id, r.agent_id) != (r.m_tenant, r.m_user, r.m_agent):
                problems.append(Problem("facts_scope", int(r.memory_id), r.uid,
                                        f"statement {r.subject} {r.attribute} filed under "
                                        f"{r.tenant_id}/{r.user_id}/{r.agent_id}, its memory "
                                        f"is {r.m_tenant}/{r.m_user}/{r.m_agent}",
                                        check=self.name))
            else:
                have = (float(r.valid_from), None if r.valid_to is None else float(r.valid_to),
                        r.superseded_by, int(r.opens))
                want = expected.get(int(r.id))
                if want is not None and have != want:
                    problems.append(Problem("facts_timeline", int(r.memory_id), r.uid,
                                            f"{r.subject} {r.attribute}: validity {have}, its "
                                            f"timeline gives {want}", check=self.name))
        return len({int(r.memory_id) for r in live}), problems

    def repair(self, backend: Any, problems: Sequence[Problem], embedder: Embedder) -> int:
        with backend.engine.begin() as conn:
            rows = _facts(conn)
            keys: set[Key] = set()
            orphans = [int(r.id) for r in rows if r.uid is None]
            moved = [r for r in rows if r.uid is not None and
                     (r.tenant_id, r.user_id, r.agent_id) != (r.m_tenant, r.m_user, r.m_agent)]
            keys |= {_key(r) for r in rows if r.uid is None}
            keys |= {_key(r) for r in moved}
            keys |= {(r.m_tenant, r.m_user, r.m_agent, r.subject, r.attribute) for r in moved}
            keys |= {_key(r) for r in rows if r.uid is not None
                     and any(p.kind == "facts_timeline" and p.row_id == int(r.memory_id)
                             for p in problems)}
            for start in range(0, len(orphans), 500):
                marks = ", ".join(str(i) for i in orphans[start : start + 500])
                conn.execute(text(f"DELETE FROM memory_facts WHERE id IN ({marks})"))
            if moved:
                conn.execute(text(
                    "UPDATE memory_facts SET tenant_id = :t, user_id = :u, agent_id = :a "
                    "WHERE id = :id"), [{"t": r.m_tenant, "u": r.m_user, "a": r.m_agent,
                                          "id": int(r.id)} for r in moved])
            recompute(conn, keys)
        return len(problems)

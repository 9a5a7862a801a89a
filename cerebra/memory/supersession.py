"""Facts in time on SQL: write a memory's statements and keep every timeline's validity.

A timeline is every statement of one (tenant, user, agent, subject, attribute) in
`memory_facts` (cerebra/db/fact_tables.py), ordered by when it was stated (the memory's
created_at, then its row id). Walking it, each run of consecutive statements of one value
is valid from the run's first statement until the next statement of a different value,
which supersedes the run (`valid_to`, `superseded_by`); the same value restated supersedes
nothing. Every write that adds, changes or removes statements recomputes the timelines it
touched, in the caller's transaction, so deleting or editing the newer memory gives the
older one its validity back. Timelines are short (one per fact a person states), so
recomputing a whole one is a few rows.

`states` reads the statements of memories by row id; `FactState.valid_at` is what recall
uses (a statement in a timeline's first run is taken to hold before it was stated too).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from cerebra.memory.facts import Fact

Key = tuple[str, str, str, str, str]  # tenant, user, agent, subject, attribute

_CHUNK = 500


@dataclass(frozen=True)
class FactState:
    """One statement of a memory and the interval it is valid."""

    subject: str
    attribute: str
    value: str
    stated_at: float
    valid_from: float
    valid_to: float | None
    superseded_by: str | None
    opens: bool

    def valid_at(self, at: float) -> bool:
        started = self.opens or self.valid_from <= at
        return started and (self.valid_to is None or at < self.valid_to)

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "attribute": self.attribute,
            "value": self.value,
            "valid_from": self.valid_from,
            "valid_to": self.valid_to,
            "superseded_by": self.superseded_by,
        }


@dataclass(frozen=True)
class Statement:
    """Facts to write for one stored row."""

    row_id: int
    tenant_id: str
    user_id: str
    agent_id: str
    stated_at: float
    facts: tuple[Fact, ...]


def record(conn: Connection, statements: Sequence[Statement], *, replace: bool = False) -> None:
    """Write the statements of rows (replacing what they stated before when `replace`) and
    recompute every timeline that gains or loses a statement."""
    if not statements:
        return
    keys: set[Key] = set()
    if replace:
        keys |= _drop(conn, [s.row_id for s in statements])
    rows = []
    for s in statements:
        for f in s.facts:
            keys.add((s.tenant_id, s.user_id, s.agent_id, f.subject, f.attribute))
            rows.append(
                {
                    "m": s.row_id,
                    "t": s.tenant_id,
                    "u": s.user_id,
                    "a": s.agent_id,
                    "s": f.subject[:200],
                    "attr": f.attribute[:200],
                    "v": f.value[:400],
                    "at": s.stated_at,
                }
            )
    if rows:
        conn.execute(
            text(
                "INSERT INTO memory_facts (memory_id, tenant_id, user_id, agent_id, subject, "
                "attribute, value, stated_at, valid_from, valid_to, superseded_by, opens) "
                "VALUES (:m, :t, :u, :a, :s, :attr, :v, :at, :at, NULL, NULL, 1)"
            ),
            rows,
        )
    recompute(conn, keys)


def forget(conn: Connection, row_ids: Sequence[int]) -> None:
    """Remove the statements of rows about to be deleted; their timelines are recomputed."""
    recompute(conn, _drop(conn, row_ids))


def _drop(conn: Connection, row_ids: Sequence[int]) -> set[Key]:
    keys: set[Key] = set()
    for start in range(0, len(row_ids), _CHUNK):
        marks = ", ".join(str(int(i)) for i in row_ids[start : start + _CHUNK])
        found = conn.execute(
            text(
                "SELECT DISTINCT tenant_id, user_id, agent_id, subject, attribute "
                f"FROM memory_facts WHERE memory_id IN ({marks})"
            )
        ).all()
        if found:
            keys |= {(r[0], r[1], r[2], r[3], r[4]) for r in found}
            conn.execute(text(f"DELETE FROM memory_facts WHERE memory_id IN ({marks})"))
    return keys


def recompute(conn: Connection, keys: Iterable[Key]) -> None:
    """Walk each timeline in statement order and store every statement's validity."""
    updates: list[dict[str, Any]] = []
    for tenant, user, agent, subject, attribute in sorted(keys):
        rows = conn.execute(
            text(
                "SELECT f.id, f.value, f.stated_at, m.uid FROM memory_facts f "
                "JOIN memories m ON m.id = f.memory_id WHERE f.tenant_id = :t AND "
                "f.user_id = :u AND f.agent_id = :a AND f.subject = :s AND f.attribute = :attr "
                "ORDER BY f.stated_at, f.memory_id, f.id"
            ),
            {"t": tenant, "u": user, "a": agent, "s": subject, "attr": attribute},
        ).all()
        updates.extend(validity(rows))
    if updates:
        conn.execute(
            text(
                "UPDATE memory_facts SET valid_from = :vf, valid_to = :vt, superseded_by = :sb, "
                "opens = :o WHERE id = :id"
            ),
            updates,
        )


def validity(rows: Sequence[Any]) -> list[dict[str, Any]]:
    """The validity of each statement of one timeline, given in statement order (rows with
    `id`, `value`, `stated_at` and the memory's `uid`): id, vf, vt, sb, o."""
    runs: list[list[Any]] = []  # consecutive statements of one value
    for r in rows:
        if runs and runs[-1][0].value == r.value:
            runs[-1].append(r)
        else:
            runs.append([r])
    out: list[dict[str, Any]] = []
    for n, run in enumerate(runs):
        nxt = runs[n + 1][0] if n + 1 < len(runs) else None
        for r in run:
            out.append(
                {
                    "id": r.id,
                    "vf": float(run[0].stated_at),
                    "vt": None if nxt is None else float(nxt.stated_at),
                    "sb": None if nxt is None else nxt.uid,
                    "o": 1 if n == 0 else 0,
                }
            )
    return out


def states(conn: Connection, row_ids: Sequence[int]) -> dict[int, tuple[FactState, ...]]:
    """The statements of each row that makes any, in the order they were written."""
    out: dict[int, list[FactState]] = {}
    for start in range(0, len(row_ids), _CHUNK):
        marks = ", ".join(str(int(i)) for i in row_ids[start : start + _CHUNK])
        if not marks:
            continue
        rows = conn.execute(
            text(
                "SELECT memory_id, subject, attribute, value, stated_at, valid_from, valid_to, "
                f"superseded_by, opens FROM memory_facts WHERE memory_id IN ({marks}) "
                "ORDER BY id"
            )
        )
        for r in rows:
            out.setdefault(int(r.memory_id), []).append(
                FactState(
                    r.subject,
                    r.attribute,
                    r.value,
                    float(r.stated_at),
                    float(r.valid_from),
                    None if r.valid_to is None else float(r.valid_to),
                    r.superseded_by,
                    bool(r.opens),
                )
            )
    return {k: tuple(v) for k, v in out.items()}


def stale_share(facts: Sequence[FactState], at: float) -> float:
    """The share of a memory's statements that are not valid at `at` (0 without any)."""
    if not facts:
        return 0.0
    return sum(1 for f in facts if not f.valid_at(at)) / len(facts)


def summary(facts: Sequence[FactState] | None, created_at: float) -> dict[str, Any]:
    """A memory's validity as a whole: superseded once every statement it makes is (by the
    memory that superseded the last of them); a memory stating nothing is never superseded."""
    if not facts:
        return {"valid_from": created_at, "valid_to": None, "superseded_by": None, "facts": []}
    current = [f for f in facts if f.valid_to is None]
    last = None if current else max(facts, key=lambda f: f.valid_to or 0.0)
    return {
        "valid_from": min(f.valid_from for f in facts),
        "valid_to": None if last is None else last.valid_to,
        "superseded_by": None if last is None else last.superseded_by,
        "facts": [f.to_dict() for f in facts],
    }

"""What an integrity check reports (cerebra.memory.integrity): the kinds of problem, one
Problem per disagreement naming its memory, the report of a run, and the IntegrityCheck
protocol each family of checks (SQL backends, graph, facts) implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from cerebra.memory.embedders import Embedder

KINDS = (
    "missing_text",
    "stale_text",
    "orphan_text",
    "missing_vector",
    "wrong_dimension",
    "unindexed_vector",
    "orphan_vector",
    "term_stats",
)


@dataclass(frozen=True)
class Problem:
    """One disagreement: its kind, the row (id and memory uid; uid "" when the row is gone
    or the problem is not one memory's) and what was found."""

    kind: str
    row_id: int
    memory_id: str
    detail: str
    check: str = "memory"

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "kind": self.kind, "memory_id": self.memory_id or None,
                "row_id": self.row_id, "detail": self.detail}


@dataclass
class IntegrityReport:
    """What `verify` found (and, after `repair`, what was repaired and what remains)."""

    backend: str
    rows: int
    problems: list[Problem] = field(default_factory=list)
    repaired: dict[str, int] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.problems:
            out[p.kind] = out.get(p.kind, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "backend": self.backend, "rows": self.rows,
                "checks": self.checks, "counts": self.counts(), "repaired": self.repaired,
                "problems": [p.to_dict() for p in self.problems]}


class IntegrityCheck(Protocol):
    """One family of consistency checks over a backend, with its repairs."""

    name: str

    def verify(self, backend: Any, dimension: int | None) -> tuple[int, list[Problem]]:
        """(rows looked at, problems found); `dimension`: the embedder's, None if unknown."""
        ...

    def repair(self, backend: Any, problems: Sequence[Problem], embedder: Embedder) -> int:
        """Fix what can be rebuilt from the rows; returns how many problems were handled."""
        ...

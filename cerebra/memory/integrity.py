"""Memory integrity: check that rows, full text, vectors and derived tables agree; repair
what can be rebuilt from the rows.

The rows (`memories`: text, scope, metadata) are the source of truth. Everything else is
derived from them and can drift after a crash mid-maintenance, a restored backup, a
hand-edited database or a bug:

- full text: each row's indexed terms (SQLite: `memories_fts`; PostgreSQL: the `terms`
  column behind the generated `tsv`) must be `terms_text(row.text)` — `missing_text`,
  `stale_text`, and (SQLite) `orphan_text` for an FTS5 entry without a row;
- vectors: each row has an embedding of the embedder's dimension — `missing_vector`,
  `wrong_dimension`; the vector index holds exactly the rows' vectors — `unindexed_vector`
  (a row's vector that searches cannot reach: absent from SQLite's index, or PostgreSQL's
  `embedding_dim` not matching the vector) and `orphan_vector` (an index entry whose row is
  gone or holds no such vector);
- per-scope BM25 statistics (cerebra.memory.termstats) must count the indexed terms —
  `term_stats`;
- the knowledge graph: each memory's mentions and relations are those its text yields, and
  none is left of a deleted memory (cerebra.memory.integrity_graph);
- facts in time: statements belong to live rows of their scope and their validity is what
  walking their timelines gives (cerebra.memory.integrity_facts);
- passage vectors: each long memory with a vector has its text's passages, and none are
  left of a short or deleted one (cerebra.memory.integrity_passages);
- further checks (another backend's) plug in through `register_check`:
  any object with `name`, `verify(backend, dimension)` and `repair(backend, problems,
  embedder)` (cerebra.memory.integrity_report.IntegrityCheck).

`verify` reports every problem naming its memory; `repair` re-indexes text, re-embeds
missing or wrong-dimension vectors, re-queues index entries, drops orphans and rebuilds the
statistics, each kind in one transaction, then verifies again. Backend-specific checks live
in cerebra.memory.integrity_sql; the CLI is `cerebra memory verify | repair`, and a periodic
job (`memory.integrity_interval_s`) runs `repair` in the background.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cerebra.errors import InvalidInput
from cerebra.memory.integrity_report import (
    KINDS,
    IntegrityCheck,
    IntegrityReport,
    Problem,
)

if TYPE_CHECKING:
    from cerebra.jobs.base import JobContext, JobRunner
    from cerebra.memory.embedders import Embedder
    from cerebra.memory.store import MemoryStore

__all__ = ["KINDS", "IntegrityCheck", "IntegrityReport", "Problem", "register_check",
           "repair", "repair_store", "schedule_integrity", "verify"]

_EXTRA: list[Callable[[Any], IntegrityCheck | None]] = []


def register_check(factory: Callable[[Any], IntegrityCheck | None]) -> None:
    """Add a check for the backends it applies to: `factory(backend)` returns the check,
    or None for a backend it does not cover (the knowledge graph's and facts' tables)."""
    if factory not in _EXTRA:
        _EXTRA.append(factory)


def checks_for(backend: Any) -> list[IntegrityCheck]:
    """The checks that cover `backend`: rows, text and vectors (SQLite or PostgreSQL), the
    knowledge graph, facts in time, and every registered one."""
    from cerebra.memory.integrity_facts import facts_check
    from cerebra.memory.integrity_graph import graph_check
    from cerebra.memory.integrity_passages import passages_check
    from cerebra.memory.integrity_sql import core_check

    built_in = (core_check(backend), graph_check(backend), facts_check(backend),
                passages_check(backend))
    return [c for c in (*built_in, *(f(backend) for f in _EXTRA)) if c is not None]


def _name(backend: Any) -> str:
    return str(getattr(backend, "name", type(backend).__name__))


def verify(backend: Any, embedder: Embedder | None = None) -> IntegrityReport:
    """Every problem every check finds (wrong dimensions only when `embedder` is given).
    InvalidInput for a backend no check covers (a passing report would be a false claim)."""
    checks = checks_for(backend)
    if not checks:
        raise InvalidInput(f"no integrity checks cover the {_name(backend)} memory backend",
                           field="backend")
    dimension = int(embedder.dimension) if embedder is not None else None
    report = IntegrityReport(backend=_name(backend), rows=0)
    for check in checks:
        rows, problems = check.verify(backend, dimension)
        report.rows = max(report.rows, rows)
        report.problems.extend(problems)
        report.checks.append(check.name)
    return report


def repair(backend: Any, embedder: Embedder) -> IntegrityReport:
    """Repair what each check found, then verify again: the returned report's `problems`
    are those left (none when everything could be rebuilt), `repaired` counts by check."""
    dimension = int(embedder.dimension)
    repaired: dict[str, int] = {}
    for check in checks_for(backend):  # none: verify below says so
        _, problems = check.verify(backend, dimension)
        if problems:
            repaired[check.name] = check.repair(backend, problems, embedder)
    report = verify(backend, embedder)
    report.repaired = repaired
    return report


def repair_store(memory: MemoryStore) -> int:
    """The periodic job's body: repair the store's backend; how many problems it repaired."""
    return sum(repair(memory.backend, memory.embedder).repaired.values())


def schedule_integrity(memory: MemoryStore, jobs: JobRunner, interval_s: float) -> None:
    """Run `repair_store` every `interval_s` seconds, first after one interval, as the
    runner's periodic job "memory-integrity"; nothing for a backend no check covers."""
    if not checks_for(memory.backend):
        return

    def run(_ctx: JobContext) -> int:
        return repair_store(memory)

    jobs.schedule("memory-integrity", run, interval_s, run_now=False)

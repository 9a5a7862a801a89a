"""`cerebra memory verify | repair`: the integrity of the memory store from the command line.

`verify` lists every disagreement between rows, full text, vectors and statistics
(cerebra.memory.integrity), naming each memory, and exits 1 when there is any; `repair`
rebuilds what the rows allow and exits 1 only if something is left. `--json` prints the
report. Both act on the configured database (every tenant).
"""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from cerebra.config import get_settings

out = Console()


def _store() -> Any:
    from cerebra.runtime import build_memory_store

    return build_memory_store(get_settings())


def _show(report: Any, as_json: bool, title: str) -> None:
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
        return
    if report.repaired:
        out.print(f"repaired: {', '.join(f'{k} {v}' for k, v in report.repaired.items())}")
    if report.ok:
        out.print(f"{title}: {report.rows} memories, checks {', '.join(report.checks)}: ok")
        return
    table = Table("kind", "memory", "row", "detail")
    for p in report.problems:
        table.add_row(p.kind, p.memory_id or "-", str(p.row_id or "-"), p.detail)
    out.print(table)
    counts = ", ".join(f"{k} {v}" for k, v in report.counts().items())
    out.print(f"{title}: {len(report.problems)} problems ({counts}) in {report.rows} memories")


def verify_cmd(
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Check that rows, full text, vectors and statistics agree; exit 1 naming each bad
    memory when they do not."""
    from cerebra.memory.integrity import verify

    store = _store()
    try:
        report = verify(store.backend, store.embedder)
    finally:
        store.backend.close()
    _show(report, as_json, "verify")
    if not report.ok:
        raise typer.Exit(1)


def repair_cmd(
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Re-index text, re-embed missing or wrong-dimension vectors, drop orphans, rebuild
    statistics; then verify again (exit 1 if anything is left)."""
    from cerebra.memory.integrity import repair

    store = _store()
    try:
        report = repair(store.backend, store.embedder)
    finally:
        store.backend.close()
    _show(report, as_json, "repair")
    if not report.ok:
        raise typer.Exit(1)

"""`cerebra bench …`: the memory benchmarks from the command line, printing JSON.

`memory` measures recall@k on any LoCoMo-format file; `memory-scale` measures search
latency and memory use at growing store sizes. Both run on SQLite or on a throw-away
embedded PostgreSQL.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cerebra.errors import InvalidInput

app = typer.Typer(help="Benchmarks (JSON on stdout, progress on stderr).", no_args_is_help=True)
err = Console(stderr=True)


def _ints(value: str, field: str) -> list[int]:
    try:
        out = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise InvalidInput(f"{field} must be comma-separated integers", field=field) from None
    if not out or any(v <= 0 for v in out):
        raise InvalidInput(f"{field} must be positive integers", field=field)
    return out


@contextmanager
def _postgres_url(backend: str, pg_url: str | None) -> Iterator[str | None]:
    if backend != "postgres" or pg_url:
        with nullcontext(pg_url) as url:
            yield url
        return
    from cerebra.bench.memory_scale import embedded_postgres_url

    with embedded_postgres_url() as url:
        yield url


@app.command("memory")
def memory(
    dataset: Path = typer.Option(..., "--dataset", help="a file in LoCoMo's format"),
    k: str = typer.Option("1,5,10,20", "--k", help="cut-offs, comma-separated"),
    backend: str = typer.Option("sqlite", "--backend", help="sqlite | postgres"),
    pg_url: str = typer.Option(None, "--pg-url", help="an existing PostgreSQL (else embedded)"),
) -> None:
    """Recall@k and hit@k on LoCoMo-format data; ingest rate vs the raw embedder; latency."""
    from cerebra.bench.locomo import run_locomo_benchmark
    from cerebra.memory.store import MemoryStore

    if backend not in ("sqlite", "postgres"):
        raise InvalidInput("backend must be sqlite or postgres", field="backend")
    if not dataset.is_file():
        raise InvalidInput(f"dataset {dataset} does not exist", field="dataset")
    ks = _ints(k, "k")
    with (
        tempfile.TemporaryDirectory(prefix="cerebra-bench-") as tmp,
        _postgres_url(backend, pg_url) as url,
    ):

        def factory() -> MemoryStore:
            if url is not None:
                from cerebra.memory.postgres import PostgresBackend

                return MemoryStore(PostgresBackend(url))
            from cerebra.memory.sqlite import SQLiteBackend

            return MemoryStore(SQLiteBackend(str(Path(tmp) / "memory.db")))

        with Progress(
            TextColumn("questions"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
        ) as bar:
            task = bar.add_task("questions", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            report: dict[str, Any] = run_locomo_benchmark(dataset, ks, factory, progress)
    report["backend"] = backend
    print(json.dumps(report, indent=2))


@app.command("memory-scale")
def memory_scale(
    n: str = typer.Option("10000,100000", "--n", help="store sizes, comma-separated"),
    backend: str = typer.Option("sqlite", "--backend", help="sqlite | postgres"),
    queries: int = typer.Option(100, "--queries", min=1, max=10_000),
    pg_url: str = typer.Option(None, "--pg-url", help="an existing PostgreSQL (else embedded)"),
) -> None:
    """Search latency p50/p99 (query embedding excluded) and memory use at each size."""
    from cerebra.bench.memory_scale import run_scale_benchmark

    if backend not in ("sqlite", "postgres"):
        raise InvalidInput("backend must be sqlite or postgres", field="backend")
    sizes = _ints(n, "n")
    with _postgres_url(backend, pg_url) as url, err.status("building stores…") as status:

        def progress(message: str) -> None:
            status.update(message)

        report = run_scale_benchmark(sizes, backend, progress, queries=queries, pg_url=url)
    print(json.dumps(report, indent=2))

"""`cerebra jobs list | show | cancel | follow | worker` on the local database's jobs (the
same rows the server's runner writes): a table or --json; `cancel` stops a job that another
process runs (its runner polls the flag); `follow` shows a progress bar (steps, loss, ETA)
until the job ends; `worker` runs a Celery job worker. Logic lives in cerebra.jobs."""

from __future__ import annotations

import json
import time
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from cerebra.errors import NotFound

app = typer.Typer(help="Background jobs: list, show, cancel, follow; run a Celery worker.",
                  no_args_is_help=True)
out = Console()

_TENANT = typer.Option("default", "--tenant", help="the tenant whose jobs these are")
_JSON = typer.Option(False, "--json", help="print JSON instead of a table")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="jobs")


def _store() -> Any:
    from cerebra.config import get_settings
    from cerebra.db import upgrade
    from cerebra.db.engine import make_engine
    from cerebra.jobs.store import SQLJobStore

    engine = make_engine(get_settings().db_url)
    upgrade(engine)
    return SQLJobStore(engine)


def _job(store: Any, job_id: str, tenant: str) -> Any:
    info = store.get(job_id)
    if info is None or info.tenant_id != tenant:
        raise NotFound(f"no job with id {job_id!r}", field="job_id")
    return info


@app.command("list")
def list_jobs(state: str = typer.Option(None, help="queued, running, succeeded, failed or "
                                        "cancelled"),
              name: str = typer.Option(None, help="only jobs of this name"),
              limit: int = typer.Option(50, min=1, max=1000),
              tenant: str = _TENANT, as_json: bool = _JSON) -> None:
    """The tenant's jobs, newest first."""
    from cerebra.jobs.base import STATES

    if state is not None and state not in STATES:
        raise typer.BadParameter(f"one of {', '.join(STATES)}", param_hint="--state")
    found = _store().list(state=state, name=name, tenant_id=tenant, limit=limit)
    if as_json:
        print(json.dumps([j.to_dict() for j in found], indent=2, default=str))
        return
    table = Table("id", "name", "state", "progress", "message", "created")
    for job in found:
        table.add_row(job.id, job.name, job.state, f"{job.progress:.0%}", job.message,
                      time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(job.created_at)))
    out.print(table)


@app.command()
def show(job_id: str, tenant: str = _TENANT) -> None:
    """One job as JSON: state, progress, metrics, result or error."""
    print(json.dumps(_job(_store(), job_id, tenant).to_dict(), indent=2, default=str))


@app.command()
def cancel(job_id: str, tenant: str = _TENANT) -> None:
    """Ask a job to stop (a queued one never runs; a running one stops at its next check)."""
    store = _store()
    _job(store, job_id, tenant)
    if store.cancel_from_outside(job_id, time.time()):
        print(f"cancel requested: {job_id}")
    else:
        print(f"already finished: {job_id}")


@app.command()
def follow(job_id: str, tenant: str = _TENANT,
           poll_s: float = typer.Option(0.5, min=0.05, max=60, help="seconds between reads"),
           server: str = typer.Option(None, "--server",
                                      help="follow on this server's event stream "
                                      "(http://host:port; key: CEREBRA_API_KEY) instead of "
                                      "the local database")) -> None:
    """A progress bar (steps, loss, ETA) until the job ends; exit 1 unless it succeeded."""
    from cerebra.cli.progress import follow_job, follow_remote

    info: Any
    if server:
        from cerebra.config import get_settings

        key = get_settings().server.api_key
        info = follow_remote(server, job_id, title=job_id[:8],
                             api_key=None if key is None else key.get_secret_value())
    else:
        store = _store()
        _job(store, job_id, tenant)
        info = follow_job(lambda: _job(store, job_id, tenant), poll_s=poll_s,
                          title=job_id[:8])
    state = info.state if not isinstance(info, dict) else info.get("state")
    error = info.error if not isinstance(info, dict) else info.get("error")
    print(f"{state}" + (f": {error}" if error else ""))
    if state != "succeeded":
        raise typer.Exit(1)


@app.command()
def worker(broker: str = typer.Option(..., help="the Redis broker: redis://host:port/db"),
           queue: str = typer.Option("cerebra-jobs"),
           concurrency: int = typer.Option(2, min=1, max=64),
           pool: str = typer.Option("threads", help="threads, solo or prefork")) -> None:
    """Run a Celery job worker on this settings' database (until stopped)."""
    from cerebra.config import get_settings
    from cerebra.jobs.celery_worker import run_worker

    if pool not in ("threads", "solo", "prefork"):
        raise typer.BadParameter("threads, solo or prefork", param_hint="--pool")
    run_worker(broker, get_settings().db_url, queue=queue, concurrency=concurrency, pool=pool)

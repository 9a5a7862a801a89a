"""`cerebra train …`: training runs on the local database — `run` (a workflow file, template
or stored workflow; follows the job with a progress bar: step, loss, ETA), `status` (runs,
or one run or job), `cancel`, `logs` (a run's progress reports and curve), `validate` (the
resolved workflow, or one line `line N: key: problem` and exit 2) and `templates`.
Environment overrides CEREBRA_WORKFLOW_<KEY> apply to workflows read here. Logic lives in
cerebra.improve (workflow, training_runs, train_job)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from cerebra.errors import InvalidInput

app = typer.Typer(help="Train LoRA adapters from workflows: run, status, cancel, logs.",
                  no_args_is_help=True)
out = Console()

_TENANT = typer.Option("default", "--tenant", help="the tenant whose runs these are")
_JSON = typer.Option(False, "--json", help="print JSON instead of a table")


def _context(tenant: str) -> Any:
    from cerebra.auth.principal import local_admin
    from cerebra.context import RequestContext

    return RequestContext(tenant_id=tenant, principal=local_admin(tenant))


def _engine() -> Any:
    from cerebra.db.migrate import run_migrations

    return run_migrations()


def _workflow(source: str, context: Any, engine: Any) -> Any:
    """A workflow from a file (with the environment's overrides), a template or a stored
    workflow of the tenant."""
    from cerebra.improve.training_runs import WorkflowStore
    from cerebra.improve.workflow import load_workflow, template_path, templates

    path = Path(source)
    if path.is_file():
        return load_workflow(path, env=os.environ)
    if source in templates():
        return load_workflow(template_path(source), env=os.environ)
    stored = WorkflowStore(engine).yaml_of(context, source)
    if stored is not None:
        return load_workflow(stored, env=os.environ,
                             lookup=lambda ref: WorkflowStore(engine).yaml_of(context, ref))
    raise InvalidInput(f"no workflow file, template or stored workflow {source!r}",
                       field="workflow")


@app.command()
def validate(workflow: str = typer.Argument(..., help="a workflow file, template or stored "
                                            "workflow"),
             tenant: str = _TENANT, as_json: bool = _JSON) -> None:
    """Check a workflow; print it with every inherited and overridden key resolved."""
    context, engine = _context(tenant), _engine()
    found = _workflow(workflow, context, engine)
    if as_json:
        print(json.dumps(found.model_dump(mode="json"), indent=2))
    else:
        print(found.to_yaml(), end="")


@app.command()
def templates(as_json: bool = _JSON) -> None:
    """The shipped workflow templates (for `extends:`)."""
    from cerebra.improve.workflow import templates as shipped

    if as_json:
        print(json.dumps(shipped(), indent=2))
        return
    for name, description in shipped().items():
        out.print(f"[bold]{name}[/bold]  {description}", highlight=False)


def _bar(runner: Any, job_id: str, title: str) -> Any:
    """Follow a job with a progress bar (step, loss, ETA) until it ends; its JobInfo."""
    from cerebra.cli.progress import follow_job

    return follow_job(runner, job_id, title=title)


@app.command()
def run(workflow: str = typer.Argument(..., help="a workflow file, template or stored "
                                       "workflow"),
        dataset: list[str] = typer.Option(None, "--dataset", "-d",
                                          help="a dataset (name or name@version); repeat; "
                                          "replaces the workflow's datasets"),
        follow: bool = typer.Option(True, "--follow/--no-follow",
                                    help="show progress until the run ends"),
        tenant: str = _TENANT, as_json: bool = _JSON) -> None:
    """Train a workflow on its datasets as a job, here; Ctrl-C cancels (the checkpoint is
    kept, and the same run resumes from it)."""
    from cerebra.improve.train_job import start_training
    from cerebra.improve.training_runs import TrainingRuns
    from cerebra.jobs.inprocess import InProcessRunner

    if not follow:
        raise InvalidInput("the local runner trains in this process: --no-follow would end "
                           "the run with the command; use POST /api/llm/train on a server",
                           field="follow")
    context, engine = _context(tenant), _engine()
    found = _workflow(workflow, context, engine)
    runner = InProcessRunner(engine, workers=1, periodic_workers=1)
    try:
        started = start_training(context, runner, engine, found, datasets=dataset or None)
        job_id = str(started.job_id)
        print(f"run {started.id} · job {job_id} · workflow {started.workflow}",
              file=sys.stderr, flush=True)
        try:
            info = _bar(runner, job_id, f"train {started.workflow}")
        except KeyboardInterrupt:
            runner.cancel(job_id)
            runner.join(job_id, timeout=600)
            print(f"cancelled: run {started.id} keeps its checkpoint", file=sys.stderr)
            raise SystemExit(130) from None
        done = TrainingRuns(engine).get(context, started.id)
    finally:
        runner.close()
    if as_json:
        print(json.dumps({"run": done.to_dict(), "job": info.to_dict()}, indent=2))
    elif info.state == "succeeded":
        m = done.metrics
        print(f"trained {done.workflow}: {m.get('steps')} steps, final loss "
              f"{m.get('final_loss')}, {m.get('seconds', 0):.0f} s on {m.get('device')} → "
              f"{done.gguf_path}")
    if info.state != "succeeded":
        print(f"error: run {done.id} {info.state}: {info.error or ''}".rstrip(": "),
              file=sys.stderr)
        raise SystemExit(1)


def _job(engine: Any, context: Any, job_id: str) -> Any:
    from cerebra.jobs.store import SQLJobStore

    info = SQLJobStore(engine).get(job_id)
    return None if info is None or info.tenant_id != context.tenant_id else info


@app.command()
def status(which: str = typer.Argument(None, help="a run id or a job id (default: every "
                                       "run)"),
           tenant: str = _TENANT, as_json: bool = _JSON) -> None:
    """Training runs, newest first; or one run with its job."""
    from cerebra.improve.training_runs import TrainingRuns

    context, engine = _context(tenant), _engine()
    runs = TrainingRuns(engine)
    if which is None:
        found = runs.list(context)
        if as_json:
            print(json.dumps([r.to_dict() for r in found], indent=2))
            return
        table = Table("run", "workflow", "state", "steps", "loss", "job")
        for r in found:
            table.add_row(r.id, r.workflow, r.state, str(r.metrics.get("steps", "")),
                          str(r.metrics.get("final_loss", "")), r.job_id or "")
        out.print(table)
        return
    one = runs.find(context, which)
    job = _job(engine, context, one.job_id) if one.job_id else None
    if as_json:
        print(json.dumps({"run": one.to_dict(),
                          "job": None if job is None else job.to_dict()}, indent=2))
        return
    print(f"run {one.id} · workflow {one.workflow} · {one.state}")
    if job is not None:
        from cerebra.cli.progress import describe

        print(f"job {job.id} · {job.state} · {job.progress:.0%} · {describe(job.to_dict())}")
    for key, value in one.metrics.items():
        print(f"  {key}: {value}")
    if one.error:
        print(f"  error: {one.error}")


@app.command()
def cancel(job: str = typer.Argument(..., help="the job (or run) id"),
           tenant: str = _TENANT) -> None:
    """Ask a training job to stop (it saves a checkpoint first; the run can resume)."""
    from cerebra.improve.training_runs import TrainingRuns
    from cerebra.jobs.store import SQLJobStore

    context, engine = _context(tenant), _engine()
    run_ = TrainingRuns(engine).find(context, job)
    info = _job(engine, context, run_.job_id) if run_.job_id else None
    if info is None:
        raise InvalidInput(f"run {run_.id} has no job", field="job")
    if info.done:
        print(f"job {info.id} already {info.state}")
        raise SystemExit(1)
    import time

    if not SQLJobStore(engine).cancel_from_outside(info.id, time.time()):
        print(f"job {info.id} already finished")
        raise SystemExit(1)
    print(f"cancel requested: job {info.id} (run {run_.id}); it stops after a checkpoint")


@app.command()
def logs(job: str = typer.Argument(..., help="the job (or run) id"),
         tenant: str = _TENANT, as_json: bool = _JSON) -> None:
    """A run's progress reports (step, loss, ETA) and, once trained, its curve."""
    from cerebra.improve.train_job import progress_log
    from cerebra.improve.training_runs import TrainingRuns

    context, engine = _context(tenant), _engine()
    found = TrainingRuns(engine).find(context, job)
    entries = progress_log(found)
    curve_path = Path(found.adapter_dir or found.out_dir) / "curve.json"
    curve = json.loads(curve_path.read_text()) if curve_path.is_file() else []
    if as_json:
        print(json.dumps({"run": found.id, "progress": entries, "curve": curve}, indent=2))
        return
    for e in entries:
        loss = "?" if e.get("loss") is None else f"{e['loss']:.4f}"
        print(f"step {e.get('step')}/{e.get('total')}  loss {loss}  eta {e.get('eta_s')}")
    if not entries:
        print(f"run {found.id}: no progress yet ({found.state})")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="train")

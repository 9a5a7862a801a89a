"""`cerebra improve …`: the self-improvement loop on the local database — `run TASK` (one
cycle: the task's signals curated, a LoRA trained, the gate, promotion; followed with a
progress bar), `triggers` (list), `trigger TASK` (set a task's retraining policy),
`untrigger TASK`, `check` (check the triggers now and run what fires). Logic lives in
cerebra.improve (loop, triggers, setup)."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="The self-improvement loop: run a cycle, set retraining triggers.",
                  no_args_is_help=True)
out = Console()

_TENANT = typer.Option("default", "--tenant", help="the tenant whose task this is")
_JSON = typer.Option(False, "--json", help="print JSON instead of a table")


def _context(tenant: str) -> Any:
    from cerebra.auth.principal import local_admin
    from cerebra.context import RequestContext

    return RequestContext(tenant_id=tenant, principal=local_admin(tenant))


def _store() -> Any:
    from cerebra.db.migrate import run_migrations
    from cerebra.improve.triggers import TriggerStore

    return TriggerStore(run_migrations())


def _improvement() -> tuple[Any, Any]:
    """The Brain on the local settings with the layer attached (loads the models)."""
    from cerebra.brain import Brain
    from cerebra.config import get_settings
    from cerebra.improve.setup import attach_improvement

    settings = get_settings()
    brain = Brain.from_settings(settings)
    return brain, attach_improvement(brain, settings)


def _follow(improvement: Any, job_id: str, title: str) -> Any:
    from cerebra.cli.progress import follow_job

    return follow_job(improvement.runner, job_id, title=title)


@app.command()
def run(task: str = typer.Argument(..., help="the task: a kit's name"),
        workflow: str = typer.Option("sft-lora-cpu", help="a template or stored workflow"),
        dataset: str | None = typer.Option(None, help="train on this dataset (name or "
                                           "name@version), not the task's signals"),
        max_steps: int | None = typer.Option(None, min=1, help="training steps (override)"),
        eval_limit: int | None = typer.Option(None, min=1, help="held-out items of the task"),
        guard_limit: int = typer.Option(100, min=1, help="held-out items per guard kit"),
        promote: bool = typer.Option(True, "--promote/--measure-only"),
        augment: int = typer.Option(0, min=0, max=8, help="checked paraphrases added per "
                                    "curated prompt (by --augment-model)"),
        augment_model: str | None = typer.Option(None, help="the paraphrasing model "
                                                 "(default: the default model)"),
        tenant: str = _TENANT, as_json: bool = _JSON) -> None:
    """One cycle of TASK: curate → train → gate → promote (or refuse), as a job."""
    from cerebra.improve.loop import CycleOptions
    from cerebra.kits.registry import get_kit

    get_kit(task, tenant=tenant)  # an unknown task: one line, exit 2
    overrides = {} if max_steps is None else {"max_steps": max_steps}
    options = CycleOptions(workflow=workflow, overrides=overrides, dataset=dataset,
                           eval_limit=eval_limit, guard_limit=guard_limit, promote=promote,
                           augment=augment, augment_model=augment_model,
                           reason="started from the CLI")
    brain, improvement = _improvement()
    try:
        job_id = improvement.start_cycle(_context(tenant), task, options)
        _follow(improvement, job_id, f"improve {task}")
        job = improvement.runner.status(job_id)
    finally:
        improvement.close()
        brain.close()
    if job.state != "succeeded":
        out.print(f"[red]{job.state}[/red]: {job.error or job.message}")
        raise typer.Exit(1)
    result = job.result
    if as_json:
        print(json.dumps(result, indent=2, default=str))
        return
    gate = result.get("gate") or {}
    out.print(f"{result['outcome']}: {task} — held-out accuracy {gate.get('baseline')} → "
              f"{gate.get('candidate')} (gain {gate.get('gain')} points, "
              f"p={gate.get('p_value')}); served as {result.get('served_name')}")
    for reason in gate.get("reasons") or []:
        out.print(f"  refused: {reason}")


@app.command()
def triggers(tenant: str = _TENANT, as_json: bool = _JSON) -> None:
    """The tenant's retraining triggers and what their last check did."""
    rows = _store().list(_context(tenant))
    if as_json:
        print(json.dumps(rows, indent=2, default=str))
        return
    table = Table("task", "workflow", "after N", "drift", "fired", "last check")
    for row in rows:
        event = row.get("last_event") or {}
        table.add_row(row["task"], row["workflow"], str(row["min_new_examples"]),
                      "-" if row["drift_margin"] is None else f"{row['drift_margin']:g}",
                      str(row["fired"]), f"{event.get('action', '-')}: "
                      f"{event.get('reason', '')}")
    out.print(table)


@app.command()
def trigger(task: str = typer.Argument(..., help="the task: a kit's name"),
            min_new_examples: int = typer.Option(50, "--after", min=1,
                                                 help="new rated examples that start a cycle"),
            drift_margin: float | None = typer.Option(
                None, "--drift", min=0.0, max=1.0,
                help="start when the live score falls this far below the baseline"),
            workflow: str = typer.Option("sft-lora-cpu", help="the workflow cycles train with"),
            disable: bool = typer.Option(False, "--disable", help="keep it, never fire"),
            tenant: str = _TENANT, as_json: bool = _JSON) -> None:
    """Set TASK's retraining policy (replaces an earlier one, keeping its history)."""
    from cerebra.improve.triggers import TriggerPolicy
    from cerebra.kits.registry import get_kit

    get_kit(task, tenant=tenant)
    policy = TriggerPolicy(task=task, workflow=workflow, min_new_examples=min_new_examples,
                           drift_margin=drift_margin or None, enabled=not disable)
    row = _store().set(_context(tenant), policy)
    if as_json:
        print(json.dumps(row, indent=2, default=str))
    else:
        out.print(f"trigger set: {task} after {min_new_examples} new rated examples"
                  + (f", or a drift of {drift_margin:g}" if drift_margin else ""))


@app.command()
def untrigger(task: str = typer.Argument(...), tenant: str = _TENANT) -> None:
    """Delete TASK's retraining policy."""
    from cerebra.errors import NotFound

    if not _store().delete(_context(tenant), task):
        raise NotFound(f"no trigger for task {task!r}", field="task")
    out.print(f"trigger deleted: {task}")


@app.command()
def check(tenant: str = _TENANT, as_json: bool = _JSON) -> None:
    """Check the tenant's triggers now; a fired one's cycle runs here, followed."""
    brain, improvement = _improvement()
    try:
        events = improvement.triggers.check(_context(tenant))
        results = []
        for event in events:
            if event.action == "fired" and event.job_id:
                _follow(improvement, event.job_id, f"improve {event.task}")
                results.append(improvement.runner.status(event.job_id).to_dict())
    finally:
        improvement.close()
        brain.close()
    if as_json:
        print(json.dumps({"events": [e.to_dict() for e in events], "jobs": results},
                         indent=2, default=str))
        return
    for event in events:
        out.print(f"{event.task}: {event.action} — {event.reason}")

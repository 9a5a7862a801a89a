"""Training as a job: `start_training` records a run of a workflow on named dataset versions
and submits it to a JobRunner (kind "train"); `run_training_job(ctx, tenant_id, run_id)`
is the job itself — it writes the run's rows as TRL JSONL into the run's stable folder,
trains (cerebra.training.subprocess_run.run_in_subprocess: a child process, SIGTERM on cancel, a
checkpoint kept), reports step, loss and ETA as the job's progress, and records the outcome.

A run's folder never changes, so running the same job again (a restart, a Celery retry)
resumes from its last checkpoint. `register_training(runner, engine)` names the job on a
runner; a runner in another process registers it the same way.
"""

from __future__ import annotations

import functools
import json
import math
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cerebra.context import RequestContext
from cerebra.errors import InvalidInput, NotFound
from cerebra.improve.training_runs import TrainingRun, TrainingRuns
from cerebra.improve.workflow import Workflow

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from cerebra.jobs.base import JobContext, JobRunner

TRAIN_KIND = "train"
ROWS_FILE = "rows.jsonl"
PROGRESS_FILE = "progress.jsonl"
Trainer = Callable[..., Any]  # run_in_subprocess(config, rows_path, out_dir, *, progress, …)


def default_root() -> Path:
    from cerebra.config import get_settings

    return get_settings().home / "training"


def _default_trainer() -> Trainer:
    """The real trainer: training in a child process (cerebra.training.subprocess_run)."""
    from cerebra.training.subprocess_run import run_in_subprocess

    return run_in_subprocess


def base_gguf(base_model: str) -> Path | None:
    """The GGUF a workflow's base model is trained from: None for the embedded model (the
    trainer's default), else a .gguf file named by path; InvalidInput otherwise."""
    from cerebra.config import get_settings

    if base_model == get_settings().model.name:
        return None
    path = Path(base_model).expanduser()
    if path.suffix == ".gguf" and path.is_file():
        return path
    raise InvalidInput(f"base_model {base_model!r}: training starts from the embedded model "
                       f"({get_settings().model.name}) or a .gguf file's path",
                       field="base_model")


def resolve_datasets(engine: Engine, context: RequestContext, workflow: Workflow,
                     names: list[str] | None = None) -> list[dict[str, Any]]:
    """The dataset versions a run reads (`names` replace the workflow's own), each checked
    against the stage: preference pairs also train SFT (prompt → chosen), SFT rows never
    train DPO."""
    from cerebra.improve.datasets import DatasetStore

    refs = workflow.model_copy(update={"datasets": names}).dataset_refs() if names \
        else workflow.dataset_refs()
    if not refs:
        raise InvalidInput("a training run needs at least one dataset (the workflow's "
                           "`datasets`, or datasets named with the request)", field="datasets")
    store, found = DatasetStore(engine), []
    for name, version in refs:
        ds = store.get(context, name, version)
        if workflow.stage == "dpo" and ds.kind != "dpo":
            raise InvalidInput(f"dataset {ds.name!r} holds {ds.kind} rows; a dpo workflow "
                               "needs preference pairs", field="datasets")
        found.append({"name": ds.name, "version": ds.version, "id": ds.id, "kind": ds.kind,
                      "content_hash": ds.content_hash, "rows": ds.rows})
    return found


def start_training(context: RequestContext, runner: JobRunner, engine: Engine,
                   workflow: Workflow, *, datasets: list[str] | None = None,
                   root: Path | None = None) -> TrainingRun:
    """Record a run and submit it as a "train" job; the run (with its job id)."""
    base_gguf(workflow.base_model)  # refused now, not when the job runs
    refs = resolve_datasets(engine, context, workflow, datasets)
    runs = TrainingRuns(engine)
    run_id = f"run_{uuid.uuid4().hex[:16]}"
    out_dir = (root or default_root()) / context.tenant_id / run_id
    run = runs.create(context, workflow, refs, str(out_dir), run_id=run_id)
    args = (context.tenant_id, run.id)
    name = f"train {workflow.name}"
    try:
        job_id = runner.submit(name, TRAIN_KIND, args, tenant_id=context.tenant_id)
    except NotFound:  # the runner has not been told the kind yet: the default trainer
        register_training(runner)
        job_id = runner.submit(name, TRAIN_KIND, args, tenant_id=context.tenant_id)
    runs.update(context, run.id, job_id=job_id)
    return runs.get(context, run.id)


def register_training(runner: JobRunner, engine: Engine | None = None, *,
                      trainer: Trainer | None = None) -> None:
    """Name the training job on `runner`, resumable (a run whose process ended is taken up
    again from its checkpoint). Without `engine` and `trainer` the job is the module-level
    `run_training_job` itself (what Celery workers import; it opens the configured database);
    `trainer` is a stand-in for the real one in tests."""
    fn: Trainer = run_training_job if engine is None and trainer is None else \
        functools.partial(run_training_job, engine=engine, trainer=trainer)
    runner.register(TRAIN_KIND, fn, resumable=True)


def _write_rows(engine: Engine, context: RequestContext, run: TrainingRun, stage: str,
                path: Path) -> int:
    from cerebra.improve.datasets import DatasetStore
    from cerebra.improve.rows import PrefPair

    store, n = DatasetStore(engine), 0
    partial = path.with_suffix(".part")
    with partial.open("w", encoding="utf-8") as out:
        for ref in run.datasets:
            for row in store.rows(context, ref["id"]):
                if isinstance(row, PrefPair):
                    item = ({"prompt": row.prompt, "chosen": row.chosen,
                             "rejected": row.rejected} if stage == "dpo"
                            else {"prompt": row.prompt, "completion": row.chosen})
                else:
                    item = {"prompt": row.prompt, "completion": row.completion}
                out.write(json.dumps(item, ensure_ascii=False) + "\n")
                n += 1
    if n == 0:
        partial.unlink()
        raise InvalidInput("the run's datasets hold no rows", field="datasets")
    partial.replace(path)  # whole or absent: a resumed run reads the same rows
    return n


def _final_loss(curve: Any) -> float | None:
    if not curve:
        return None
    last = curve[-1]
    value = last.get("loss") if isinstance(last, dict) else (
        last[1] if isinstance(last, list | tuple) and len(last) > 1 else last)
    return float(value) if isinstance(value, int | float) else None


def run_training_job(ctx: JobContext, tenant_id: str, run_id: str, *,
                     engine: Engine | None = None,
                     trainer: Trainer | None = None) -> dict[str, Any]:
    """The "train" job: train the run's workflow on its rows; the run's figures."""
    from cerebra.jobs.base import JobCancelled
    from cerebra.jobs.context import describe

    if engine is None:
        from cerebra.db.migrate import run_migrations

        engine = run_migrations()
    context = RequestContext(tenant_id=tenant_id)
    runs = TrainingRuns(engine)
    run = runs.get(context, run_id)
    workflow = Workflow.model_validate(run.spec)
    out_dir = Path(run.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    runs.update(context, run_id, state="running", job_id=ctx.job_id, error=None)
    log_path = out_dir / PROGRESS_FILE

    def progress(step: int, total: int, loss: float | None, eta_s: float | None) -> None:
        finite = [v if isinstance(v, int | float) and math.isfinite(v) else None
                  for v in (loss, eta_s)]
        ctx.report(step=max(0, min(step, total)), total=max(total, 1), loss=finite[0],
                   eta_s=None if finite[1] is None or finite[1] < 0 else finite[1])
        with log_path.open("a", encoding="utf-8") as log:
            log.write(json.dumps({"step": step, "total": total, "loss": loss, "eta_s": eta_s,
                                  "at": time.time()}) + "\n")

    from cerebra.training.errors import TrainingCancelled

    try:
        rows_path = out_dir / ROWS_FILE
        rows = _write_rows(engine, context, run, workflow.stage, rows_path) \
            if not rows_path.exists() else sum(1 for _ in rows_path.open(encoding="utf-8"))
        train = trainer if trainer is not None else _default_trainer()
        result = train(workflow.train_config(), rows_path, out_dir,
                       base_gguf=base_gguf(workflow.base_model), progress=progress,
                       should_stop=lambda: ctx.cancelled, resume=True)
        if ctx.cancelled:
            raise JobCancelled(f"training run {run_id} was cancelled", field="job_id")
    except (JobCancelled, TrainingCancelled):
        runs.update(context, run_id, state="cancelled", finished_at=time.time())
        raise JobCancelled(f"training run {run_id} was cancelled (its checkpoint is kept)",
                           field="job_id") from None
    except BaseException as exc:
        runs.update(context, run_id, state="failed", error=describe(exc),
                    finished_at=time.time())
        raise
    metrics = {"steps": int(result.steps), "final_loss": _final_loss(result.curve),
               "seconds": float(result.seconds), "device": str(result.device), "rows": rows}
    adapter_dir = str(result.adapter_dir)
    gguf = None if result.gguf_path is None else str(result.gguf_path)
    runs.update(context, run_id, state="succeeded", adapter_dir=adapter_dir, gguf_path=gguf,
                metrics=metrics, finished_at=time.time())
    return {"run_id": run_id, "workflow": workflow.name, "adapter_dir": adapter_dir,
            "gguf_path": gguf, **metrics}


def progress_log(run: TrainingRun) -> list[dict[str, Any]]:
    """A run's progress reports so far (step, total, loss, eta_s, at), oldest first."""
    path = Path(run.out_dir) / PROGRESS_FILE
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut by a crash
    return entries

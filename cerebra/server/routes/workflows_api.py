"""Workflows and training over HTTP: POST /api/v1/workflows/create (a workflow as YAML or
as fields; a mistake is a 422 naming the key and its line), GET /api/v1/workflows[/{name}],
POST /api/llm/train (a stored workflow, a template or inline YAML, on named datasets, run as
a job: 202 with its job and run ids), GET /api/v1/training/runs[/{run_id}] (the tenant's
runs; one with its job's state and progress). Every call acts for the caller's tenant;
another tenant's workflow, run or dataset is a 404. Documents sent here are taken as
written: no environment overrides, no `${VAR}` substitution, no `extends:` of server files.
Logic lives in cerebra.improve (workflow, training_runs, train_job)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from cerebra.auth.principal import Scope
from cerebra.brain import Brain
from cerebra.config import Settings
from cerebra.context import RequestContext
from cerebra.errors import CerebraError, InvalidInput, NotFound
from cerebra.governance.audit_setup import record_action
from cerebra.improve.workflow import DATASET_PATTERN, MAX_YAML_CHARS, NAME_PATTERN, Workflow
from cerebra.server.auth import requires
from cerebra.server.deps import get_app_settings, get_brain
from cerebra.server.openapi_doc import error_response

router = APIRouter(tags=["training"])

Name = Annotated[str, Field(pattern=NAME_PATTERN, description="1-100 letters, digits, _ . -")]
DatasetRef = Annotated[str, Field(pattern=DATASET_PATTERN, description="name or name@version")]
RUN_ID = r"^[A-Za-z0-9_]{1,64}$"
_INVALID: dict[int | str, dict[str, Any]] = {422: error_response(
    422, "invalid workflow: the message reads `line N: key: problem`, `field` names the key "
    "and `line` its line")}


def _one_of(**kinds: dict[str, Any]) -> Any:
    """A body's rule: exactly one of these keys, not null (the others absent or null)."""
    def extra(schema: dict[str, Any]) -> None:
        schema["oneOf"] = [{"required": [name], "properties": {name: rule}}
                           for name, rule in kinds.items()]

    return extra


class NoRunner(CerebraError):
    status_code = 503
    code = "no_job_runner"


class WorkflowIn(BaseModel):
    """A workflow as YAML (which may `extends:` a template or one of the tenant's stored
    workflows) or as its fields; `name` names it when the document does not."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    yaml: str | None = Field(default=None, min_length=1, max_length=MAX_YAML_CHARS)
    workflow: dict[str, Any] | None = Field(
        default=None, max_length=64, description="the workflow's keys as JSON (see the YAML)")


class TrainIn(BaseModel):
    """What to train: a stored workflow or a template by name, or inline YAML; `datasets`
    replace the workflow's own."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_one_of(
        workflow={"type": "string"}, yaml={"type": "string"}))

    workflow: Name | None = Field(default=None, description="a stored workflow or a template")
    yaml: str | None = Field(default=None, min_length=1, max_length=MAX_YAML_CHARS)
    datasets: list[DatasetRef] | None = Field(default=None, min_length=1, max_length=32)


def _stores(brain: Brain) -> Any:
    from cerebra.improve.training_runs import TrainingRuns, WorkflowStore

    return WorkflowStore(brain.engine), TrainingRuns(brain.engine)


@router.post("/api/v1/workflows/create", status_code=201, responses=_INVALID)
async def create_workflow(
    body: WorkflowIn,
    ctx: RequestContext = Depends(requires(Scope.TRAINING_WRITE)),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    """Store (or replace) a workflow of the caller's tenant, validated."""
    import json

    def create() -> dict[str, Any]:
        workflows, _ = _stores(brain)
        workflow = workflows.parse(ctx, yaml=body.yaml, fields=body.workflow, name=body.name)
        text = body.yaml if body.yaml is not None else json.dumps(body.workflow)
        return dict(workflows.save(ctx, workflow, text).to_dict())

    stored = await asyncio.to_thread(create)
    record_action(brain.audit, ctx, "workflow.create", stored["name"])
    return stored


@router.get("/api/v1/workflows")
async def list_workflows(
    ctx: RequestContext = Depends(requires(Scope.TRAINING_READ)),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    """The tenant's workflows, and the templates any workflow may extend."""
    from cerebra.improve.workflow import templates

    stored = await asyncio.to_thread(lambda: _stores(brain)[0].list(ctx))
    return {"workflows": [w.to_dict() for w in stored],
            "templates": [{"name": k, "description": v} for k, v in templates().items()]}


@router.get("/api/v1/workflows/{name}")
async def show_workflow(
    name: Annotated[str, Path(pattern=NAME_PATTERN)],
    ctx: RequestContext = Depends(requires(Scope.TRAINING_READ)),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    found = await asyncio.to_thread(lambda: _stores(brain)[0].get(ctx, name))
    return dict(found.to_dict())


def _workflow_for(brain: Brain, ctx: RequestContext, body: TrainIn) -> Workflow:
    from cerebra.improve.workflow import load_workflow, template_path, templates

    workflows, _ = _stores(brain)
    if (body.workflow is None) == (body.yaml is None):
        raise InvalidInput("name a workflow or give its yaml (one of them)", field="workflow")
    if body.yaml is not None:
        workflow: Workflow = workflows.parse(ctx, yaml=body.yaml)
        return workflow
    try:
        stored: Workflow = workflows.get(ctx, body.workflow).workflow
        return stored
    except NotFound:
        if body.workflow in templates():
            return load_workflow(template_path(body.workflow))
        raise NotFound(f"no workflow or template {body.workflow!r}", field="workflow") from None


@router.post("/api/llm/train", status_code=202, responses={
    **_INVALID, 503: error_response(503, "this server runs no background jobs")})
async def train(
    body: TrainIn,
    ctx: RequestContext = Depends(requires(Scope.TRAINING_WRITE)),
    brain: Brain = Depends(get_brain),
    settings: Settings = Depends(get_app_settings),
) -> dict[str, Any]:
    """Start a training run as a background job; follow it at /api/v1/training/runs/{id}."""
    from cerebra.improve.train_job import start_training

    if brain.jobs is None:
        raise NoRunner("this server runs no background jobs", field="workflow")
    runner = brain.jobs

    def start() -> Any:
        workflow = _workflow_for(brain, ctx, body)
        return start_training(ctx, runner, brain.engine, workflow, datasets=body.datasets,
                              root=settings.home / "training")

    run = await asyncio.to_thread(start)
    record_action(brain.audit, ctx, "training.start", run.id,
                  details={"workflow": run.workflow, "job_id": run.job_id,
                           "datasets": [d["id"] for d in run.datasets]})
    return {"job_id": run.job_id, "run_id": run.id, "workflow": run.workflow,
            "datasets": run.datasets, "state": run.state}


def _public(run: Any) -> dict[str, Any]:
    out = dict(run.to_dict())
    for key in ("out_dir", "adapter_dir", "gguf_path", "tenant_id"):  # server paths stay here
        out.pop(key, None)
    out["adapter"] = run.gguf_path is not None
    return out


@router.get("/api/v1/training/runs")
async def list_runs(
    ctx: RequestContext = Depends(requires(Scope.TRAINING_READ)),
    brain: Brain = Depends(get_brain),
    workflow: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
    state: Literal["queued", "running", "succeeded", "failed", "cancelled"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    runs = await asyncio.to_thread(lambda: _stores(brain)[1].list(
        ctx, workflow=workflow, state=state, limit=limit))
    return {"runs": [_public(r) for r in runs]}


@router.get("/api/v1/training/runs/{run_id}")
async def show_run(
    run_id: Annotated[str, Path(pattern=RUN_ID)],
    ctx: RequestContext = Depends(requires(Scope.TRAINING_READ)),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    """A run (by its id or its job's), with its job's state and its progress reports."""
    from cerebra.improve.train_job import progress_log

    def show() -> dict[str, Any]:
        run = _stores(brain)[1].find(ctx, run_id)
        job = None
        if run.job_id is not None and brain.jobs is not None:
            try:
                info = brain.jobs.status(run.job_id)
                job = {k: v for k, v in info.to_dict().items() if k != "tenant_id"}
            except NotFound:
                job = None
        return {**_public(run), "job": job, "progress": progress_log(run)[-1000:]}

    return await asyncio.to_thread(show)

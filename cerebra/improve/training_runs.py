"""The record of workflows and training runs, per tenant: `WorkflowStore` (a tenant's stored
training recipes, the YAML as written and its validated keys) and `TrainingRuns` (one row
per run: its job, the dataset versions it read, its stable output folder, its state and
figures). Every call acts for the tenant of its `context`; another tenant's workflow or run
is simply not found.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine, and_, insert, select, update

from cerebra.context import RequestContext
from cerebra.db.improve_tables import training_runs, workflows
from cerebra.errors import InvalidInput, NotFound
from cerebra.improve.workflow import Workflow, WorkflowError, validate

RUN_STATES = ("queued", "running", "succeeded", "failed", "cancelled")


@dataclass(frozen=True)
class StoredWorkflow:
    name: str
    yaml: str
    workflow: Workflow
    created_at: float
    updated_at: float

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "yaml": self.yaml,
                "workflow": self.workflow.model_dump(mode="json"),
                "created_at": self.created_at, "updated_at": self.updated_at}


class WorkflowStore:
    """A tenant's workflows: create (or replace) from YAML or fields, get, list."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def yaml_of(self, context: RequestContext, name: str) -> str | None:
        """A stored workflow's YAML (what `extends: <name>` reads), or None."""
        with self.engine.connect() as conn:
            text = conn.execute(select(workflows.c.yaml).where(and_(
                workflows.c.tenant_id == context.tenant_id, workflows.c.name == name))).scalar()
        return None if text is None else str(text)

    def parse(self, context: RequestContext, *, yaml: str | None = None,
              fields: Mapping[str, Any] | None = None, name: str | None = None) -> Workflow:
        """Validate a workflow given as YAML (which may extend templates and this tenant's
        stored workflows) or as fields; `name` names it when the document does not."""
        from cerebra.improve.workflow_loader import resolve

        if (yaml is None) == (fields is None):
            raise InvalidInput("give a workflow as yaml or as fields, not both", field="yaml")
        if yaml is not None:
            data, where = resolve(yaml, lookup=lambda ref: self.yaml_of(context, ref))
        else:
            data, where = dict(fields or {}), {}
        if name is not None:
            if "name" in data and data["name"] != name:
                raise WorkflowError(f"name: the request names {name!r}, the workflow "
                                    f"{data['name']!r}", field="name")
            data["name"] = name
        return validate(data, where)

    def save(self, context: RequestContext, workflow: Workflow, yaml: str) -> StoredWorkflow:
        """Store (or replace) the tenant's workflow of that name."""
        now = time.time()
        spec = workflow.model_dump(mode="json")
        key = and_(workflows.c.tenant_id == context.tenant_id,
                   workflows.c.name == workflow.name)
        with self.engine.begin() as conn:
            created = conn.execute(select(workflows.c.created_at).where(key)).scalar()
            if created is None:
                conn.execute(insert(workflows).values(
                    tenant_id=context.tenant_id, name=workflow.name, yaml=yaml, spec=spec,
                    created_at=now, updated_at=now))
                created = now
            else:
                conn.execute(update(workflows).where(key).values(yaml=yaml, spec=spec,
                                                                 updated_at=now))
        return StoredWorkflow(workflow.name, yaml, workflow, float(created), now)

    def get(self, context: RequestContext, name: str) -> StoredWorkflow:
        with self.engine.connect() as conn:
            row = conn.execute(select(workflows).where(and_(
                workflows.c.tenant_id == context.tenant_id, workflows.c.name == name))).first()
        if row is None:
            raise NotFound(f"no workflow {name!r}", field="name")
        return _stored(row)

    def list(self, context: RequestContext) -> list[StoredWorkflow]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(workflows).where(
                workflows.c.tenant_id == context.tenant_id).order_by(workflows.c.name)).all()
        return [_stored(row) for row in rows]


def _stored(row: Any) -> StoredWorkflow:
    return StoredWorkflow(row.name, row.yaml, Workflow.model_validate(row.spec),
                          row.created_at, row.updated_at)


@dataclass(frozen=True)
class TrainingRun:
    """One training run of a workflow, as recorded."""

    id: str
    workflow: str
    spec: dict[str, Any]
    job_id: str | None
    datasets: list[dict[str, Any]]
    out_dir: str
    adapter_dir: str | None
    gguf_path: str | None
    state: str
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    created_at: float = 0.0
    finished_at: float | None = None
    tenant_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class TrainingRuns:
    """Training runs per tenant: created when submitted, updated by the job that runs them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, context: RequestContext, workflow: Workflow,
               datasets: list[dict[str, Any]], out_dir: str, *,
               run_id: str | None = None) -> TrainingRun:
        run = TrainingRun(run_id or f"run_{uuid.uuid4().hex[:16]}", workflow.name,
                          workflow.model_dump(mode="json"), None, list(datasets), out_dir,
                          None, None, "queued", {}, None, time.time(), None, context.tenant_id)
        values = run.to_dict()
        with self.engine.begin() as conn:
            conn.execute(insert(training_runs).values(**values))
        return run

    def update(self, context: RequestContext, run_id: str, **values: Any) -> None:
        unknown = set(values) - {"job_id", "adapter_dir", "gguf_path", "state", "metrics",
                                 "error", "finished_at"}
        if unknown:
            raise InvalidInput(f"not a run's changing field: {sorted(unknown)}", field="values")
        if "state" in values and values["state"] not in RUN_STATES:
            raise InvalidInput(f"a run's state is one of {RUN_STATES}", field="state")
        with self.engine.begin() as conn:
            changed = conn.execute(update(training_runs).where(and_(
                training_runs.c.tenant_id == context.tenant_id,
                training_runs.c.id == run_id)).values(**values)).rowcount
        if not changed:
            raise NotFound(f"no training run {run_id!r}", field="run_id")

    def get(self, context: RequestContext, run_id: str) -> TrainingRun:
        with self.engine.connect() as conn:
            row = conn.execute(select(training_runs).where(and_(
                training_runs.c.tenant_id == context.tenant_id,
                training_runs.c.id == run_id))).first()
        if row is None:
            raise NotFound(f"no training run {run_id!r}", field="run_id")
        return TrainingRun(**row._asdict())

    def find(self, context: RequestContext, run_or_job: str) -> TrainingRun:
        """A run by its id or by the id of the job that runs it."""
        with self.engine.connect() as conn:
            row = conn.execute(select(training_runs).where(and_(
                training_runs.c.tenant_id == context.tenant_id,
                (training_runs.c.id == run_or_job) | (training_runs.c.job_id == run_or_job)))
            ).first()
        if row is None:
            raise NotFound(f"no training run or job {run_or_job!r}", field="run_id")
        return TrainingRun(**row._asdict())

    def list(self, context: RequestContext, *, workflow: str | None = None,
             state: str | None = None, limit: int = 100) -> list[TrainingRun]:
        query = select(training_runs).where(training_runs.c.tenant_id == context.tenant_id)
        if workflow is not None:
            query = query.where(training_runs.c.workflow == workflow)
        if state is not None:
            query = query.where(training_runs.c.state == state)
        query = query.order_by(training_runs.c.created_at.desc()).limit(max(1, min(limit, 1000)))
        with self.engine.connect() as conn:
            return [TrainingRun(**row._asdict()) for row in conn.execute(query).all()]

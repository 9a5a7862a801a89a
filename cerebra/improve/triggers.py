"""Automatic retraining triggers: a policy per task that starts the loop (curation → training
→ gate → promotion) by itself — after N new rated examples, or when the task's live score
drifts below its baseline — with at most one job per task at a time, and a record of what it
did.

`TriggerStore` keeps one policy per (tenant, task) in `improve_triggers` with its cursor (the
time of the last signal counted), the job it started and the outcome of its last check.
`Triggers.check()` is the periodic job: for every enabled policy of every tenant it counts
the task's signals since the cursor and measures the live score (the mean of its latest
`window` score signals, higher is better), and when a policy fires it calls `start_cycle`
(the loop's job submission) and records the job. A policy whose job is still queued or
running is skipped, so two cycles of one task never overlap.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, delete, insert, select, update

from cerebra.context import RequestContext
from cerebra.db.improve_tables import improve_triggers
from cerebra.errors import NotFound
from cerebra.jobs.base import TERMINAL, JobRunner

StartCycle = Callable[[RequestContext, "TriggerPolicy", str], str]  # (ctx, policy, reason) → job id
SCORE_KINDS = ("score", "thumbs", "checker")


class TriggerPolicy(BaseModel):
    """When a task retrains by itself."""

    model_config = ConfigDict(extra="forbid")

    task: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    workflow: str = Field(default="sft-lora-cpu", min_length=1, max_length=200,
                          description="a stored workflow or a template the cycle trains with")
    min_new_examples: int = Field(default=50, ge=1, le=1_000_000,
                                  description="rated examples since the last run that start one")
    drift_margin: float | None = Field(
        default=None, gt=0.0, le=1.0,
        description="start a run when the live score falls this far below the baseline "
                    "(None: no drift trigger)")
    baseline_score: float | None = Field(
        default=None, ge=0.0, le=1.0,
        description="the task's reference score (None: the live score when first measured)")
    window: int = Field(default=50, ge=5, le=10_000,
                        description="how many latest score signals make the live score")
    enabled: bool = True


@dataclass(frozen=True)
class TriggerEvent:
    """What one check did for one task."""

    tenant_id: str
    task: str
    action: str  # fired | skipped | waiting
    reason: str
    new_examples: int
    live_score: float | None
    job_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class TriggerStore:
    """The policies and their state, per tenant."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock

    def set(self, context: RequestContext, policy: TriggerPolicy) -> dict[str, Any]:
        """Create or replace the task's policy (its cursor and history are kept); signals
        before a new policy's creation are not new to it."""
        now = self.clock()
        values = policy.model_dump()
        with self.engine.begin() as conn:
            exists = conn.execute(select(improve_triggers.c.task).where(
                improve_triggers.c.tenant_id == context.tenant_id,
                improve_triggers.c.task == policy.task)).first()
            if exists:
                conn.execute(update(improve_triggers).where(
                    improve_triggers.c.tenant_id == context.tenant_id,
                    improve_triggers.c.task == policy.task).values(**values, updated_at=now))
            else:
                conn.execute(insert(improve_triggers).values(
                    tenant_id=context.tenant_id, **values, cursor_at=now, created_at=now,
                    updated_at=now, fired=0))
        return self.get(context, policy.task)

    def get(self, context: RequestContext, task: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(select(improve_triggers).where(
                improve_triggers.c.tenant_id == context.tenant_id,
                improve_triggers.c.task == task)).mappings().first()
        if row is None:
            raise NotFound(f"no trigger for task {task!r}", field="task")
        return dict(row)

    def list(self, context: RequestContext | None = None) -> list[dict[str, Any]]:
        """One tenant's policies, or every tenant's (the periodic check) without a context."""
        query = select(improve_triggers).order_by(improve_triggers.c.tenant_id,
                                                  improve_triggers.c.task)
        if context is not None:
            query = query.where(improve_triggers.c.tenant_id == context.tenant_id)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def delete(self, context: RequestContext, task: str) -> bool:
        with self.engine.begin() as conn:
            gone = conn.execute(delete(improve_triggers).where(
                improve_triggers.c.tenant_id == context.tenant_id,
                improve_triggers.c.task == task)).rowcount
        return bool(gone)

    def record(self, tenant_id: str, task: str, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(improve_triggers).where(
                improve_triggers.c.tenant_id == tenant_id,
                improve_triggers.c.task == task).values(**values))


class Triggers:
    """Checks every policy and starts the loop where one fires."""

    def __init__(self, engine: Engine, runner: JobRunner, start_cycle: StartCycle, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.store = TriggerStore(engine, clock=clock)
        self.runner = runner
        self.start_cycle = start_cycle
        self.clock = clock

    def check(self, context: RequestContext | None = None) -> list[TriggerEvent]:
        """Check one tenant's policies (or all of them) once; what each did."""
        return [self.check_one(row) for row in self.store.list(context) if row["enabled"]]

    def check_one(self, row: dict[str, Any]) -> TriggerEvent:
        from cerebra.improve.signals import SignalStore

        tenant, task = row["tenant_id"], row["task"]
        context = RequestContext(tenant_id=tenant)
        now = self.clock()
        signals = SignalStore(self.engine)
        new = signals.count_since(context, task, row["cursor_at"])
        live = self.live_score(signals, context, task, row["window"])
        baseline = row["baseline_score"]
        if baseline is None and live is not None:
            baseline = live  # the first measurement is the reference
            self.store.record(tenant, task, baseline_score=live)

        def event(action: str, reason: str, job_id: str | None = None) -> TriggerEvent:
            ev = TriggerEvent(tenant, task, action, reason, new, live, job_id)
            self.store.record(tenant, task, checked_at=now, last_event=ev.to_dict())
            return ev

        active = row["active_job_id"]
        if active and self._running(active):
            return event("skipped", f"job {active} of this task is still running", active)
        reason = None
        if new >= row["min_new_examples"]:
            reason = f"{new} new rated examples (policy: {row['min_new_examples']})"
        elif (row["drift_margin"] is not None and live is not None and baseline is not None
              and live < baseline - row["drift_margin"]):
            reason = (f"live score {live:.3f} fell below the baseline {baseline:.3f} by more "
                      f"than {row['drift_margin']:.3f}")
        if reason is None:
            return event("waiting", f"{new} of {row['min_new_examples']} new rated examples")
        policy = TriggerPolicy(**{k: row[k] for k in TriggerPolicy.model_fields})
        job_id = self.start_cycle(context, policy, reason)
        self.store.record(tenant, task, active_job_id=job_id, fired_at=now, cursor_at=now,
                          fired=row["fired"] + 1)
        return event("fired", reason, job_id)

    def _running(self, job_id: str) -> bool:
        try:
            return self.runner.status(job_id).state not in TERMINAL
        except NotFound:
            return False

    @staticmethod
    def live_score(signals: Any, context: RequestContext, task: str,
                   window: int) -> float | None:
        """Mean of the task's latest `window` score signals in [0, 1] (higher is better)."""
        rows = signals.list(context, task=task, limit=window * 4)  # newest first
        values = [s.value for s in rows if s.kind in SCORE_KINDS and s.value is not None]
        values = values[:window]
        return sum(values) / len(values) if values else None

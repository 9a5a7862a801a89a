"""Wiring of the self-improvement layer into a Brain — the one place the server, the library
and the benchmark get it from: promoted adapters served again after a restart, the job kinds
("train", "improve") named on the Brain's runner, and the retraining triggers checked
periodically.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cerebra.context import RequestContext
from cerebra.jobs.scheduled import ScheduledJob

if TYPE_CHECKING:
    from cerebra.brain import Brain
    from cerebra.config import Settings
    from cerebra.improve.loop import CycleOptions, ImprovementLoop
    from cerebra.improve.registry import ModelRegistry
    from cerebra.improve.triggers import TriggerPolicy, Triggers
    from cerebra.jobs.base import JobContext, JobRunner

log = logging.getLogger(__name__)
TRIGGERS_JOB = "improve-triggers"


@dataclass
class Improvement:
    """The layer as wired: what a route or a caller reaches it through."""

    runner: JobRunner
    loop: ImprovementLoop
    versions: ModelRegistry
    triggers: Triggers
    restored: list[str] = field(default_factory=list)
    schedule: ScheduledJob | None = None

    def start_cycle(self, context: RequestContext, task: str,
                    options: CycleOptions | None = None) -> str:
        """Submit one cycle of `task` (curate → train → gate → promote); the job id."""
        from cerebra.improve.loop import start_cycle

        return start_cycle(context, self.runner, task, options)

    def close(self, timeout_s: float = 10.0) -> None:
        if self.schedule is not None:
            self.schedule.stop(timeout_s)


def attach_improvement(brain: Brain, settings: Settings, *,
                       loop_options: dict[str, Any] | None = None,
                       cycle_defaults: dict[str, Any] | None = None) -> Improvement:
    """Wire the layer into `brain` (its runner must exist: Brain.from_settings makes one).
    `loop_options` go to the ImprovementLoop (e.g. a stand-in trainer in tests),
    `cycle_defaults` to the CycleOptions of the cycles triggers start (e.g. guard_limit)."""
    from cerebra.improve.loop import CYCLE_KIND, CycleOptions, ImprovementLoop
    from cerebra.improve.registry import ModelRegistry
    from cerebra.improve.train_job import register_training
    from cerebra.improve.triggers import Triggers
    from cerebra.jobs.inprocess import InProcessRunner

    runner = brain.jobs
    if runner is None:
        raise ValueError("the self-improvement layer needs the Brain's job runner")
    versions = ModelRegistry(brain.engine, brain.models)
    restored = versions.restore()
    if restored:
        log.info("serving promoted adapters again: %s", ", ".join(restored))
    loop = ImprovementLoop(brain.engine, brain.models, embedder=brain.memory.embedder,
                           policy=policy_engine_of(brain), **(loop_options or {}))
    if isinstance(runner, InProcessRunner):
        register_training(runner, brain.engine)
        loop.register(runner)
    else:  # workers in other processes import module-level jobs and build their own parts
        register_training(runner)
        runner.register(CYCLE_KIND, run_cycle_job)

    def start(context: RequestContext, policy: TriggerPolicy, reason: str) -> str:
        from cerebra.improve.loop import start_cycle

        return start_cycle(context, runner, policy.task,
                           CycleOptions(**{**(cycle_defaults or {}),
                                           "workflow": policy.workflow, "reason": reason}))

    triggers = Triggers(brain.engine, runner, start)
    improvement = Improvement(runner, loop, versions, triggers, restored)
    if settings.improve.trigger_check_s > 0:
        def check(ctx: JobContext) -> dict[str, Any]:
            # promotions and rollbacks another process made (a Celery worker's cycle, the
            # CLI, another server) are served here too, then the triggers are checked
            served = versions.sync()
            return {"served": served,
                    "fired": [e.to_dict() for e in triggers.check() if e.action == "fired"]}

        improvement.schedule = ScheduledJob(runner, lambda: runner)
        improvement.schedule.start(TRIGGERS_JOB, check, settings.improve.trigger_check_s)
    return improvement


def policy_engine_of(brain: Brain) -> Any:
    """The Brain's policy engine (its PolicyGuard's), for PII scrubbing in curation."""
    from cerebra.governance.guard import PolicyGuard

    for guard in getattr(brain, "guards", ()) or ():
        if isinstance(guard, PolicyGuard):
            return guard.engine
    return None


_WORKER_LOOP: ImprovementLoop | None = None


def run_cycle_job(ctx: JobContext, tenant_id: str, task: str,
                  options: dict[str, Any]) -> dict[str, Any]:
    """The "improve" job where it runs in a worker process (Celery): the worker's own loop
    over the configured database and local models, built once per process. A promotion it
    makes is recorded in the database; servers serve it after their next sync."""
    global _WORKER_LOOP
    if _WORKER_LOOP is None:
        from cerebra.config import get_settings
        from cerebra.improve.loop import ImprovementLoop
        from cerebra.runtime import assemble

        parts = assemble(get_settings())
        _WORKER_LOOP = ImprovementLoop(parts.engine, parts.models,
                                       embedder=parts.memory.embedder)
    return _WORKER_LOOP.run_job(ctx, tenant_id, task, options)

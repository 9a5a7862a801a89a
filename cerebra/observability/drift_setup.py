"""Wiring of drift detection into a Brain: the detector over the Brain's database and
embedder, where its alerts go (the log, and drift.webhook_url when set), its periodic job
("drift-check") on the Brain's JobRunner, and the retraining hook
— a drift alert on a task starts that task's improvement cycle through its retraining
trigger (cerebra.improve.triggers), under the trigger's own rule of one job per task."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cerebra.context import RequestContext
from cerebra.errors import NotFound
from cerebra.observability.drift import DriftDetector, Retrain
from cerebra.observability.notify import FanOut, LogNotifier, Notifier

if TYPE_CHECKING:
    from cerebra.brain import Brain
    from cerebra.config import Settings
    from cerebra.improve.triggers import Triggers
    from cerebra.jobs.base import JobContext, JobRunner

log = logging.getLogger(__name__)
DRIFT_JOB = "drift-check"


def retrain_through(triggers: Triggers) -> Retrain:
    """The hook that fires `task`'s retraining trigger for a drift: nothing without an
    enabled trigger, skipped while the task's last job still runs (as Triggers.check does),
    else the cycle is started and recorded on the trigger."""
    from cerebra.improve.triggers import TriggerEvent, TriggerPolicy

    def retrain(tenant: str, task: str, reason: str) -> dict[str, Any] | None:
        context = RequestContext(tenant_id=tenant)
        try:
            row = triggers.store.get(context, task)
        except NotFound:
            return None
        if not row["enabled"]:
            return {"action": "skipped", "reason": "the task's trigger is disabled"}
        now = triggers.clock()
        active = row["active_job_id"]
        if active and triggers._running(active):
            return {"action": "skipped", "job_id": active,
                    "reason": f"job {active} of this task is still running"}
        policy = TriggerPolicy(**{k: row[k] for k in TriggerPolicy.model_fields})
        job_id = triggers.start_cycle(context, policy, f"drift: {reason}")
        event = TriggerEvent(tenant, task, "fired", f"drift: {reason}", 0, None, job_id)
        triggers.store.record(tenant, task, active_job_id=job_id, fired_at=now, cursor_at=now,
                              checked_at=now, fired=row["fired"] + 1,
                              last_event=event.to_dict())
        return event.to_dict()

    return retrain


@dataclass
class DriftService:
    """The detector as wired, and its periodic job (None when checks run only on demand)."""

    detector: DriftDetector
    runner: JobRunner | None = None
    scheduled: bool = False
    own_notifier: Notifier | None = None  # built here from settings: closed here

    def close(self, timeout_s: float = 10.0) -> None:
        if self.scheduled and self.runner is not None:
            self.scheduled = False
            self.runner.unschedule(DRIFT_JOB, timeout_s)
        if self.own_notifier is not None:
            self.own_notifier.close()
            self.own_notifier = None


def build_notifier(settings: Settings) -> Notifier:
    """The log, and the webhook of `drift.webhook_url` when one is set (signed with
    costs.webhook_secret, within costs.webhook_timeout_s, as budget alerts are)."""
    if not settings.drift.webhook_url:
        return LogNotifier()
    from cerebra.observability.notify_webhook import WebhookNotifier

    costs = settings.costs
    return FanOut([LogNotifier(), WebhookNotifier(
        settings.drift.webhook_url, secret=costs.webhook_secret.get_secret_value(),
        timeout_s=costs.webhook_timeout_s)])


def attach_drift(brain: Brain, settings: Settings, improvement: Any = None, *,
                 notifier: Notifier | None = None) -> DriftService:
    """The detector over `brain`, checked every drift.check_interval_s on its runner (first
    after one interval); `improvement` (cerebra.improve.setup's) gives the retraining hook;
    alerts go to `notifier`, else to the log and drift.webhook_url."""
    triggers = getattr(improvement, "triggers", None)
    own = build_notifier(settings) if notifier is None else None
    detector = DriftDetector(brain.engine, settings.drift, embedder=brain.memory.embedder,
                             notifier=notifier or own,
                             retrain=retrain_through(triggers) if triggers else None)
    service = DriftService(detector, brain.jobs, own_notifier=own)
    interval = settings.drift.check_interval_s
    if interval > 0 and brain.jobs is not None:
        def check(_ctx: JobContext) -> dict[str, Any]:
            reports = detector.check()
            return {"reports": len(reports),
                    "drifted": [f"{r['scope']} {r['signal']}" for r in reports
                                if r["drifted"]]}

        brain.jobs.schedule(DRIFT_JOB, check, interval, run_now=False)
        service.scheduled = True
    return service

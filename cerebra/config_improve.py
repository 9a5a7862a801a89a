"""Settings of the self-improvement layer: which job runner runs background jobs (in
process, or Celery workers over Redis), and how the loop runs by itself (retraining
triggers, where adapters are trained). Registered in cerebra.config's GROUPS."""

from __future__ import annotations

from typing import Literal

from cerebra.config_groups import _field, _Group


class JobsSettings(_Group):
    """Background jobs (pruning, probes, training, evaluation, the loop's cycles)."""

    runner: Literal["inprocess", "celery"] = _field(
        "inprocess",
        description="who runs jobs: `inprocess` (threads of the server) or `celery` (workers "
        "started with `python -m cerebra.jobs.celery_worker`, over the Redis broker)",
    )
    broker_url: str | None = _field(
        None, description="the Celery broker (default: redis.url); job state stays in the "
        "database either way",
    )


class ImproveSettings(_Group):
    """The self-improvement loop (cerebra.improve): promoted adapters, retraining triggers."""

    enabled: bool = _field(
        True, description="serve promoted adapters and run the loop's jobs (training, gate, "
        "cycles); off: none of it is wired into the server",
    )
    trigger_check_s: float = _field(
        60.0, ge=0, le=86_400,
        description="seconds between checks of the retraining triggers (0: never checked)",
    )

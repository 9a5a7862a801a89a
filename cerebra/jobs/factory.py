"""The one place that turns the `jobs.runner` choice (inprocess | celery) into a JobRunner,
for the runtime to call; Celery is imported only when it is chosen."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cerebra.errors import InvalidInput
from cerebra.jobs.base import JobRunner

if TYPE_CHECKING:
    from sqlalchemy import Engine

RUNNERS = ("inprocess", "celery")


def make_runner(kind: str, *, engine: Engine | None, broker_url: str | None = None,
                queue: str | None = None, **options: Any) -> JobRunner:
    """An InProcessRunner or a CeleryRunner (which needs `engine` and `broker_url`, and
    workers started with `python -m cerebra.jobs.celery_worker`); `options` go to its
    constructor. The Celery runner made here leaves its jobs running when it closes
    (`cancel_on_close=False` unless given): they run on workers, and a server restart
    must not stop them."""
    if kind == "inprocess":
        from cerebra.jobs.inprocess import InProcessRunner

        return InProcessRunner(engine, **options)
    if kind == "celery":
        if engine is None or not broker_url:
            raise InvalidInput("the celery job runner needs a database and a broker URL "
                               "(redis://...)", field="broker_url")
        from cerebra.jobs.celery_runner import CeleryRunner
        from cerebra.jobs.celery_worker import DEFAULT_QUEUE

        options.setdefault("cancel_on_close", False)
        return CeleryRunner(engine, broker_url, queue=queue or DEFAULT_QUEUE, **options)
    raise InvalidInput(f"unknown job runner {kind!r}; one of {', '.join(RUNNERS)}",
                       field="runner")

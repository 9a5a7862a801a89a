"""Background jobs over HTTP: /api/v1/jobs (list), /api/v1/jobs/{id} (show),
/api/v1/jobs/{id}/events (server-sent events: progress, steps, loss, ETA and state until the
job ends) and /api/v1/jobs/{id}/cancel. Everything is the caller's tenant's: another
tenant's job is not found (404). The runner is the app's (`app.state.job_runner` when one
is set, else the Brain's); logic lives in cerebra.jobs.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse

from cerebra.auth.principal import Scope
from cerebra.context import RequestContext
from cerebra.errors import NotFound
from cerebra.jobs.base import JobInfo, JobRunner
from cerebra.server.auth import requires
from cerebra.server.openapi_doc import error_response

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])

JobId = Annotated[str, Path(min_length=1, max_length=64, description="a job's id")]
_404: dict[int | str, dict[str, Any]] = {
    404: error_response(404, "no such job in the caller's tenant, or jobs are off")}
_EVENTS: dict[int | str, dict[str, Any]] = {
    **_404,
    200: {"description": "server-sent events: `progress` (state, progress, message, metrics "
                         "with step, total, loss, eta_s) on every change, then `end` with "
                         "the finished job",
          "content": {"text/event-stream": {"schema": {
              "type": "object", "properties": {"data": {"type": "string"}}}}}},
}
POLL_S = 0.25  # how often the stream reads the job's state
KEEPALIVE_S = 15.0


def job_runner(request: Request) -> JobRunner:
    """The app's job runner (404 when it has none)."""
    runner = getattr(request.app.state, "job_runner", None)
    if runner is None:
        brain = getattr(request.app.state, "brain", None)
        runner = getattr(brain, "jobs", None)
    if runner is None:
        raise NotFound("background jobs are off on this server", field="job_id")
    found: JobRunner = runner
    return found


def _job(runner: JobRunner, ctx: RequestContext, job_id: str) -> JobInfo:
    info = runner.status(job_id)  # NotFound for an unknown id
    if info.tenant_id != ctx.tenant_id:
        raise NotFound(f"no job with id {job_id!r}", field="job_id")
    return info


def _view(info: JobInfo) -> dict[str, Any]:
    return info.to_dict()


def snapshot(info: JobInfo) -> dict[str, Any]:
    """What a progress event carries."""
    return {"id": info.id, "state": info.state, "progress": info.progress,
            "message": info.message, "metrics": info.metrics, "attempt": info.attempt}


@router.get("")
async def list_jobs(state: Literal["queued", "running", "succeeded", "failed",
                                   "cancelled"] | None = None,
                    name: str | None = Query(None, min_length=1, max_length=200),
                    limit: int = Query(100, ge=1, le=500),
                    ctx: RequestContext = Depends(requires(Scope.TRAINING_READ)),
                    runner: JobRunner = Depends(job_runner)) -> dict[str, Any]:
    """The tenant's jobs, newest first."""
    found = await asyncio.to_thread(runner.list, state=state, name=name,
                                    tenant_id=ctx.tenant_id, limit=limit)
    return {"jobs": [_view(j) for j in found]}


@router.get("/{job_id}", responses=_404)
async def show_job(job_id: JobId, ctx: RequestContext = Depends(requires(Scope.TRAINING_READ)),
                   runner: JobRunner = Depends(job_runner)) -> dict[str, Any]:
    return _view(await asyncio.to_thread(_job, runner, ctx, job_id))


@router.post("/{job_id}/cancel", responses=_404)
async def cancel_job(job_id: JobId, ctx: RequestContext = Depends(requires(Scope.TRAINING_WRITE)),
                     runner: JobRunner = Depends(job_runner)) -> dict[str, Any]:
    """A queued job never runs; a running one is asked to stop (it stops at its next
    check). `cancelled` is false when it had finished already."""
    await asyncio.to_thread(_job, runner, ctx, job_id)
    cancelled = await asyncio.to_thread(runner.cancel, job_id)
    info = await asyncio.to_thread(runner.status, job_id)
    return {"cancelled": cancelled, "job": _view(info)}


@router.get("/{job_id}/events", responses=_EVENTS)
async def job_events(job_id: JobId, request: Request,
                     ctx: RequestContext = Depends(requires(Scope.TRAINING_READ)),
                     runner: JobRunner = Depends(job_runner)) -> StreamingResponse:
    first = await asyncio.to_thread(_job, runner, ctx, job_id)
    return StreamingResponse(stream(runner, first, request), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})


async def stream(runner: JobRunner, info: JobInfo, request: Request | None = None,
                 poll_s: float = POLL_S) -> AsyncIterator[str]:
    """`progress` events whenever the job's state, progress or metrics change, then `end`."""
    last: dict[str, Any] | None = None
    quiet_since = time.monotonic()
    while True:
        now = snapshot(info)
        if now != last:
            last, quiet_since = now, time.monotonic()
            yield f"event: progress\ndata: {json.dumps(now)}\n\n"
        elif time.monotonic() - quiet_since >= KEEPALIVE_S:
            quiet_since = time.monotonic()
            yield ": keep-alive\n\n"
        if info.done:
            yield f"event: end\ndata: {json.dumps(_view(info), default=str)}\n\n"
            return
        if request is not None and await request.is_disconnected():
            return
        await asyncio.sleep(poll_s)
        info = await asyncio.to_thread(runner.status, info.id)

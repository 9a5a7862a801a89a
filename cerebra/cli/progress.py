"""A job followed in the terminal: a Rich progress bar with the step, loss and ETA a job
reports (`ctx.report`), until the job ends — from a runner or any status getter (polled), or
from a server's `GET /api/v1/jobs/{id}/events` stream (`sse_events`)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

from cerebra.jobs.base import TERMINAL, JobInfo

Update = Mapping[str, Any]  # state, progress, message, metrics (a progress event's data)


def describe(update: Update) -> str:
    """`step 3/10 · loss 0.5000 · ETA 7s · message` from what the job reported."""
    metrics = update.get("metrics") or {}
    parts = []
    if metrics.get("step") is not None:
        total = metrics.get("total")
        parts.append(f"step {metrics['step']}" + (f"/{total}" if total else ""))
    if metrics.get("loss") is not None:
        parts.append(f"loss {float(metrics['loss']):.4f}")
    if metrics.get("eta_s") is not None:
        parts.append(f"ETA {_duration(float(metrics['eta_s']))}")
    if update.get("message"):
        parts.append(str(update["message"]))
    return " · ".join(parts) or str(update.get("state", ""))


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes \
        else f"{secs}s"


def polled(source: Any, job_id: str | None = None, *,
           poll_s: float = 0.5) -> Iterator[JobInfo]:
    """Updates of a job from a runner (`source.status(job_id)`, waking on `join`) or from
    a callable returning its JobInfo; the last one is the finished job."""
    if hasattr(source, "status"):
        if job_id is None:
            raise ValueError("following a runner's job needs its id")

        def get() -> JobInfo:
            try:
                info: JobInfo = source.join(job_id, timeout=poll_s)
                return info
            except TimeoutError:
                status: JobInfo = source.status(job_id)
                return status
    else:
        getter: Callable[[], JobInfo] = source

        def get() -> JobInfo:
            time.sleep(poll_s)
            return getter()

    while True:
        info = get()
        yield info
        if info.state in TERMINAL:
            return


def sse_events(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """The updates in a `/api/v1/jobs/{id}/events` stream, given its lines (e.g. httpx's
    `response.iter_lines()`); the `end` event's data is the finished job."""
    event, data = "", ""
    for line in lines:
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif not line and data:
            yield json.loads(data)
            if event == "end":
                return
            event, data = "", ""


def follow_job(source: Any, job_id: str | None = None, *, poll_s: float = 0.5,
               title: str = "job", console: Console | None = None
               ) -> JobInfo | dict[str, Any]:
    """Show a progress bar until the job ends; the last update: the finished JobInfo (or,
    from an event stream, the `end` event's job dict). `source` is a JobRunner (with
    `job_id`), a callable returning the job's JobInfo, or an iterable of updates
    (`sse_events`)."""
    updates: Iterable[JobInfo | Mapping[str, Any]] = (
        source if not (hasattr(source, "status") or callable(source))
        else polled(source, job_id, poll_s=poll_s))
    found: JobInfo | dict[str, Any] = {}
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                  TaskProgressColumn(), TextColumn("{task.fields[line]}"),
                  console=console or Console(stderr=True), transient=False) as bar:
        task = bar.add_task(title, total=1.0, line="queued")
        for update in updates:
            found = update if isinstance(update, JobInfo) else dict(update)
            last = found.to_dict() if isinstance(found, JobInfo) else found
            bar.update(task, completed=float(last.get("progress") or 0.0),
                       line=describe(last))
    return found  # the updates end with the job (the stream's `end` event: the whole job)


def follow_remote(server: str, job_id: str, *, api_key: str | None = None,
                  title: str = "job", console: Console | None = None) -> dict[str, Any]:
    """Follow a job on a running server through its event stream; the finished job."""
    import httpx

    from cerebra.errors import CerebraError

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    url = f"{server.rstrip('/')}/api/v1/jobs/{job_id}/events"
    with httpx.stream("GET", url, headers=headers,
                      timeout=httpx.Timeout(None, connect=5.0)) as response:
        if response.status_code != 200:
            response.read()
            try:
                message = response.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text[:200].strip()
            raise CerebraError(f"the server answered {response.status_code}: {message}")
        found = follow_job(sse_events(response.iter_lines()), title=title, console=console)
    return found if isinstance(found, dict) else found.to_dict()

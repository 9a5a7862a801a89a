"""Job functions for the runner conformance suite: module-level, so a Celery worker process
imports them as the in-process runner calls them. Jobs that must wait do so on a release
file the test creates, checking for cancellation as they wait."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cerebra.jobs import JobContext

HANG = 60.0  # a job's bound against hangs: longer than any test's join, never reached


def _hold(ctx: JobContext, release: str) -> bool:
    """Wait until the release file exists (True) or the job is cancelled (False)."""
    path = Path(release)
    for _ in range(int(HANG / 0.02)):
        if path.exists():
            return True
        if ctx.wait(0.02):
            return False
    return False


def gated(ctx: JobContext, release: str, n: int = 0) -> dict[str, int]:
    ctx.progress(0.5, "half way")
    _hold(ctx, release)
    ctx.check()
    return {"n": n}


def reporting(ctx: JobContext, release: str) -> str:
    ctx.report(step=3, total=10, loss=0.5, eta_s=7.0, message="step 3/10")
    _hold(ctx, release)
    return "done"


def broken(ctx: JobContext) -> None:
    ctx.progress(0.25)
    raise ValueError("bad input 7")


def overreach(ctx: JobContext) -> None:
    ctx.progress(1.5)


def scaled_sum(ctx: JobContext, a: int, b: int, scale: int = 1) -> int:
    return (a + b) * scale


def constant(ctx: JobContext, value: Any = None) -> Any:
    return value


def fails_key(ctx: JobContext) -> None:
    raise KeyError("missing")


def marker(ctx: JobContext, path: str) -> str:
    Path(path).write_text("ran")
    return "ran"


def patient(ctx: JobContext, style: str) -> str:
    ctx.progress(0.1, "waiting")
    ctx.wait(HANG)  # wakes when cancelled
    if style == "raises":
        ctx.check()
    return "partial"


def trainer(ctx: JobContext, folder: str, steps: int, release: str) -> dict[str, Any]:
    """A resumable job: a checkpoint per step in `folder`; the first attempt stops at half
    way until the release file exists (the test kills its process there); a resumed attempt
    starts after the last checkpoint."""
    checkpoint = Path(folder) / "checkpoint.json"
    start = json.loads(checkpoint.read_text())["step"] if ctx.resumed and checkpoint.exists() \
        else 0
    for step in range(start, steps):
        ctx.check()
        if step == steps // 2 and not ctx.resumed:
            ctx.progress(step / steps, "at the halfway checkpoint")
            _hold(ctx, release)
        checkpoint.write_text(json.dumps({"step": step + 1}))
        ctx.report(step=step + 1, total=steps, loss=1.0 / (step + 1),
                   eta_s=float(steps - step - 1))
    return {"start": start, "steps": steps, "attempt": ctx.attempt, "resumed": ctx.resumed}

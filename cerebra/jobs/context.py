"""The JobContext a running job receives, and the small checks and conversions that the
runner's parts share."""

from __future__ import annotations

import math
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

from cerebra.errors import InvalidInput
from cerebra.jobs.base import JobCancelled
from cerebra.jobs.store import jsonable

Metrics = dict[str, Any]
OnProgress = Callable[[float, str, "Metrics | None"], None]


class Context:
    """A job's view of its runner: progress reports and cooperative cancellation.
    `on_progress(fraction, message, metrics)` receives every report (metrics None when only
    the fraction moved)."""

    def __init__(self, job_id: str, name: str, on_progress: OnProgress | None = None, *,
                 attempt: int = 0) -> None:
        self._job_id, self._name = job_id, name
        self._stop = threading.Event()
        self._on_progress = on_progress
        self._attempt = attempt
        self._fraction, self._message = 0.0, ""
        self._metrics: Metrics = {}

    @property
    def attempt(self) -> int:
        return self._attempt

    @property
    def resumed(self) -> bool:
        return self._attempt > 0

    @property
    def job_id(self) -> str:
        return self._job_id

    @property
    def name(self) -> str:
        return self._name

    @property
    def cancelled(self) -> bool:
        return self._stop.is_set()

    def cancel(self) -> None:
        self._stop.set()

    def progress(self, fraction: float, message: str = "") -> None:
        if (isinstance(fraction, bool) or not isinstance(fraction, int | float)
                or not 0.0 <= fraction <= 1.0):
            raise InvalidInput("progress must be a number between 0 and 1", field="fraction")
        self._fraction, self._message = float(fraction), str(message)
        if self._on_progress is not None:
            self._on_progress(self._fraction, self._message, None)

    def report(self, *, step: int | None = None, total: int | None = None,
               loss: float | None = None, eta_s: float | None = None,
               message: str | None = None, **extra: float | int | str | None) -> None:
        values: Metrics = {"step": step, "total": total, "loss": loss, "eta_s": eta_s, **extra}
        for key, value in values.items():
            if value is None or (isinstance(value, str) and key in extra):
                continue
            if (isinstance(value, bool) or not isinstance(value, int | float)
                    or not math.isfinite(value) or (value < 0 and key != "loss")):
                raise InvalidInput(f"{key} must be a finite number", field=key)
        if total is not None and (not isinstance(total, int) or total < 1):
            raise InvalidInput("total must be a positive whole number", field="total")
        self._metrics.update({k: v for k, v in values.items() if v is not None})
        if step is not None and total is not None:
            self._fraction = min(1.0, step / total)
        if message is not None:
            self._message = str(message)
        if self._on_progress is not None:
            self._on_progress(self._fraction, self._message, dict(self._metrics))

    def check(self) -> None:
        if self.cancelled:
            raise JobCancelled(f"job {self._name!r} was cancelled", field="job_id")

    def wait(self, seconds: float) -> bool:
        return self._stop.wait(seconds)


def pid_alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill would terminate it: leave it to the heartbeat
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def owner_name(tag: str) -> str:
    """host:pid:tag — how a process running jobs names itself in their rows."""
    return f"{socket.gethostname()}:{os.getpid()}:{tag}"


WORKER_TAG = "celery-worker-"  # how a Celery worker's thread names itself as a job's owner


def celery_owned(owner: str) -> bool:
    """The job runs (or ran) on a Celery worker: the Celery runner recovers it, no other."""
    return owner.rsplit(":", 1)[-1].startswith(WORKER_TAG)


def owner_gone(owner: str) -> bool:
    """The owner is a process on this host (not this one) that has ended."""
    parts = owner.rsplit(":", 2)  # host:pid:runner
    if len(parts) != 3 or not parts[1].isdigit():
        return False
    host, pid = parts[0], int(parts[1])
    return host == socket.gethostname() and pid != os.getpid() and not pid_alive(pid)


def describe(exc: BaseException) -> str:
    """How a job's error is stored: `Type: message`."""
    return f"{type(exc).__name__}: {exc}"


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise InvalidInput("a job name must be a non-empty string of at most 200 characters",
                           field="name")
    return name


def stored_result(value: Any) -> Any:
    """A job's return value as it is kept: JSON, or its repr when JSON cannot hold it."""
    try:
        return jsonable(value)
    except (TypeError, ValueError):
        return repr(value)

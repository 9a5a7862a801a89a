"""The JobContext a running job receives, and the small checks and conversions that the
runner's parts share."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from cerebra.errors import InvalidInput
from cerebra.jobs.base import JobCancelled
from cerebra.jobs.store import jsonable


class Context:
    """A job's view of its runner: progress reports and cooperative cancellation."""

    def __init__(self, job_id: str, name: str,
                 on_progress: Callable[[float, str], None] | None = None) -> None:
        self._job_id, self._name = job_id, name
        self._stop = threading.Event()
        self._on_progress = on_progress

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
        if self._on_progress is not None:
            self._on_progress(float(fraction), str(message))

    def check(self) -> None:
        if self.cancelled:
            raise JobCancelled(f"job {self._name!r} was cancelled", field="job_id")

    def wait(self, seconds: float) -> bool:
        return self._stop.wait(seconds)


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

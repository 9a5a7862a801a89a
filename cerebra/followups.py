"""Followups: the work of a finished request that may wait until its answer is sent.

A server answering over HTTP hands `Brain.arun` a `Followups`; Brain then leaves there what
the caller need not wait for — settling the guards' reservations with the real cost, the
sinks that declare `follows_answer` (the ledger's row, the usage metrics) and the end of
the trace — and the server runs it right after the response's last byte is written
(cerebra/server/followed.py), with no await in between, so the next request the event loop takes
already sees it. Without a `Followups` (the library, the CLI, streams) Brain does the same
work before it returns. What must hold before the caller is told (the audit event of an
acknowledged request) is never left here.

The work always runs, once: when sending the response fails, and when the request fails
after Brain finished (its caller runs it on the way out).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("cerebra.followups")


class Followups:
    """Calls to make after the answer is sent, in the order they were added."""

    __slots__ = ("_calls",)

    def __init__(self) -> None:
        self._calls: list[tuple[Callable[..., object], tuple[Any, ...]]] = []

    def add(self, fn: Callable[..., object], *args: Any) -> None:
        self._calls.append((fn, args))

    def __len__(self) -> int:
        return len(self._calls)

    def run(self) -> None:
        """Make every call (each once; one that fails is logged and the rest still run)."""
        calls, self._calls = self._calls, []
        for fn, args in calls:
            try:
                fn(*args)
            except Exception:
                log.exception("a request's followup %s failed", getattr(fn, "__qualname__", fn))

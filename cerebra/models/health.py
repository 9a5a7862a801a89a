"""Health probes on a schedule: take failing models out of rotation and bring them back.

Every `interval_s` the monitor calls `probe()` (a synthetic one-token prompt) on each model of
a ModelRegistry, with a timeout. After `unhealthy_after` consecutive failures a model leaves
rotation (`registry.set_health(name, False)`); after `healthy_after` consecutive passes it
returns. `start()` schedules the rounds as a periodic job ("model-health") of a JobRunner:
the runner given to the constructor (the runtime's) or a private one; `stop()` unschedules
(and closes a private runner). `run_async()` runs them as an asyncio task instead; tests and
the CLI call `check_once()`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cerebra.jobs.scheduled import ScheduledJob
from cerebra.models.base import ModelBackend, ProbeResult
from cerebra.models.registry import ModelRegistry

if TYPE_CHECKING:
    from cerebra.jobs.base import JobContext, JobRunner

log = logging.getLogger(__name__)


@dataclass
class _Record:
    backend: ModelBackend
    failures: int = 0
    passes: int = 0
    last: ProbeResult | None = None


class HealthMonitor:
    def __init__(
        self,
        registry: ModelRegistry,
        *,
        interval_s: float = 30.0,
        timeout_s: float = 10.0,
        unhealthy_after: int = 2,
        healthy_after: int = 1,
        max_workers: int = 8,
        runner: JobRunner | None = None,
        name: str = "model-health",
    ) -> None:
        if interval_s <= 0 or timeout_s <= 0 or unhealthy_after < 1 or healthy_after < 1:
            raise ValueError("interval, timeout and thresholds must be positive")
        self.registry = registry
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.unhealthy_after = unhealthy_after
        self.healthy_after = healthy_after
        self._records: dict[str, _Record] = {}
        self._pool = ThreadPoolExecutor(max_workers=max_workers,
                                        thread_name_prefix="cerebra-probe")
        self.name = name
        self._job = ScheduledJob(runner, _private_runner)
        self._lock = threading.Lock()

    def _result(self, future: Future[ProbeResult], deadline: float, start: float
                ) -> ProbeResult:
        try:
            result = future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            future.cancel()
            return ProbeResult(False, (time.monotonic() - start) * 1000,
                               f"probe timed out after {self.timeout_s:g}s")
        except Exception as exc:  # a probe that raises counts as a failed probe
            return ProbeResult(False, (time.monotonic() - start) * 1000,
                               f"{type(exc).__name__}: {exc}")
        if not isinstance(result, ProbeResult):
            return ProbeResult(False, 0.0, f"probe returned {type(result).__name__}")
        return result

    def check_once(self) -> dict[str, ProbeResult]:
        """Probe every registered model once (concurrently) and update rotation."""
        models = self.registry.items()
        with self._lock:
            for name in set(self._records) - {n for n, _ in models}:
                del self._records[name]
        start = time.monotonic()
        deadline = start + self.timeout_s
        futures = {name: self._pool.submit(backend.probe) for name, backend in models}
        results: dict[str, ProbeResult] = {}
        for name, backend in models:
            result = self._result(futures[name], deadline, start)
            results[name] = result
            self._record(name, backend, result)
        return results

    def _record(self, name: str, backend: ModelBackend, result: ProbeResult) -> None:
        with self._lock:
            rec = self._records.get(name)
            if rec is None or rec.backend is not backend:  # new or swapped: start afresh
                rec = self._records[name] = _Record(backend)
            rec.last = result
            if result.ok:
                rec.passes, rec.failures = rec.passes + 1, 0
                verdict = True if rec.passes >= self.healthy_after else None
            else:
                rec.failures, rec.passes = rec.failures + 1, 0
                verdict = False if rec.failures >= self.unhealthy_after else None
        if verdict is None:
            return
        detail = result.detail if not result.ok else f"ok ({result.latency_ms:.0f} ms)"
        if self.registry.set_health(name, verdict, detail, backend=backend):
            if verdict:
                log.info("model %s is back in rotation", name)
            else:
                log.warning("model %s left rotation: %s", name, result.detail)

    def last_results(self) -> dict[str, ProbeResult]:
        with self._lock:
            return {n: r.last for n, r in self._records.items() if r.last is not None}

    # -- scheduling ----------------------------------------------------------------------

    def _round(self, ctx: JobContext) -> dict[str, bool]:
        """One scheduled round; a failing one is logged and recorded by the runner, and the
        next runs on time."""
        return {name: r.ok for name, r in self.check_once().items()}

    def start(self) -> None:
        """Probe now and every `interval_s` on the runner until `stop()`."""
        self._job.start(self.name, self._round, self.interval_s)

    def stop(self, timeout_s: float = 5.0) -> None:
        self._job.stop(timeout_s)

    async def run_async(self) -> None:
        """Probe on the running event loop's schedule until cancelled (probes run in threads)."""
        while True:
            try:
                await asyncio.to_thread(self.check_once)
            except Exception:
                log.exception("health check round failed")
            await asyncio.sleep(self.interval_s)

    def close(self) -> None:
        self.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> HealthMonitor:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _private_runner() -> JobRunner:
    """The monitor's own runner when it is given none (no database: schedules only)."""
    from cerebra.jobs.inprocess import InProcessRunner

    return InProcessRunner(workers=1, periodic_workers=1)

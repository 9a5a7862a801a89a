"""Health probes on a schedule: take failing models out of rotation and bring them back.

Every `interval_s` the monitor calls `probe()` (a synthetic one-token prompt) on each model of
a ModelRegistry, with a timeout. After `unhealthy_after` consecutive failures a model leaves
rotation (`registry.set_health(name, False)`); after `healthy_after` consecutive passes it
returns. Runs as a daemon thread (`start`/`stop`) or as an asyncio task (`run_async`); tests
and the CLI call `check_once()`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from cerebra.models.base import ModelBackend, ProbeResult
from cerebra.models.registry import ModelRegistry

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
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
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

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.check_once()
            except Exception:  # the monitor outlives any one bad round
                log.exception("health check round failed")
            self._stop.wait(self.interval_s)

    def start(self) -> None:
        """Probe in a daemon thread until `stop()`."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="cerebra-health", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

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

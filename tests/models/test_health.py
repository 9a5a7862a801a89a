"""HealthMonitor: failing models leave rotation after N failed probes and return after passing."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from cerebra.models.base import ProbeResult
from cerebra.models.health import HealthMonitor
from cerebra.models.registry import ModelRegistry, ModelUnavailable
from cerebra.testing import FakeModel


class Flaky(FakeModel):
    """A model whose probe passes, fails, raises or hangs on command."""

    def __init__(self, name: str) -> None:
        super().__init__(name=name)
        self.mode = "ok"
        self.probes = 0
        self.release = threading.Event()

    def probe(self) -> ProbeResult:
        self.probes += 1
        if self.mode == "raise":
            raise ConnectionError("upstream down")
        if self.mode == "hang":
            self.release.wait(5)
        return ProbeResult(self.mode == "ok", 1.0, "ok" if self.mode == "ok" else "bad answer")


@pytest.fixture
def setup() -> tuple[ModelRegistry, Flaky, Flaky]:
    reg = ModelRegistry()
    a, b = Flaky("a"), Flaky("b")
    reg.add(a)
    reg.add(b)
    return reg, a, b


def test_leaves_after_consecutive_failures_and_returns_after_passes(
        setup: tuple[ModelRegistry, Flaky, Flaky]) -> None:
    reg, a, _ = setup
    monitor = HealthMonitor(reg, interval_s=60, unhealthy_after=2, healthy_after=2)
    a.mode = "fail"
    monitor.check_once()
    assert reg.available() == ["a", "b"]  # one failure is not enough
    results = monitor.check_once()
    assert not results["a"].ok and results["b"].ok
    assert reg.available() == ["b"] and reg.get() is reg.get("b")
    with pytest.raises(ModelUnavailable, match="bad answer"):
        reg.get("a")
    a.mode = "ok"
    monitor.check_once()
    assert "a" not in reg.available()
    monitor.check_once()
    assert reg.available() == ["a", "b"] and reg.get("a") is a
    monitor.close()


def test_raising_and_hanging_probes_count_as_failures(
        setup: tuple[ModelRegistry, Flaky, Flaky]) -> None:
    reg, a, b = setup
    monitor = HealthMonitor(reg, interval_s=60, timeout_s=0.2, unhealthy_after=1)
    try:
        a.mode, b.mode = "raise", "hang"
        results = monitor.check_once()  # returns although b's probe is still hanging
        assert not b.release.is_set()
        assert "ConnectionError: upstream down" in results["a"].detail
        assert "timed out" in results["b"].detail
        assert reg.available() == []
        status = {s.name: s for s in reg.status()}
        assert not status["b"].healthy and "timed out" in status["b"].detail
    finally:
        b.release.set()
        monitor.close()


def test_a_swapped_in_backend_starts_fresh(setup: tuple[ModelRegistry, Flaky, Flaky]) -> None:
    reg, a, _ = setup
    monitor = HealthMonitor(reg, interval_s=60, unhealthy_after=2)
    a.mode = "fail"
    monitor.check_once()
    reg.replace("a", Flaky("a"))  # the new backend's first failure must not eject it
    monitor.check_once()
    assert "a" in reg.available()
    reg.remove("b")
    assert set(monitor.check_once()) == {"a"} and set(monitor.last_results()) == {"a"}
    monitor.close()


def test_background_thread_probes_on_schedule(setup: tuple[ModelRegistry, Flaky, Flaky]
                                              ) -> None:
    reg, a, _ = setup
    monitor = HealthMonitor(reg, interval_s=0.02, unhealthy_after=1)
    monitor.start()
    try:
        a.mode = "fail"
        deadline = time.monotonic() + 30  # against a hang only: polls a real condition
        while "a" in reg.available() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert "a" not in reg.available()
        a.mode = "ok"
        while "a" not in reg.available() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert "a" in reg.available() and a.probes >= 2
    finally:
        monitor.close()


async def test_asyncio_task_probes_on_schedule(setup: tuple[ModelRegistry, Flaky, Flaky]
                                               ) -> None:
    reg, a, _ = setup
    monitor = HealthMonitor(reg, interval_s=0.02, unhealthy_after=1)
    a.mode = "fail"
    task = asyncio.create_task(monitor.run_async())
    for _ in range(1500):  # up to 30 s, against a hang only
        if "a" not in reg.available():
            break
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    monitor.close()
    assert "a" not in reg.available()


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        HealthMonitor(ModelRegistry(), interval_s=0)

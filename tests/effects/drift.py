"""Effect checks of the drift settings (drift.*): the periodic check on the Brain's runner,
the two windows, the significance level, the sample floor, how many prompts are embedded,
and retraining started by a drift alert — observed in the detector's reports, its alerts,
the runner's schedules and the jobs a task's trigger starts."""

from __future__ import annotations

import time
from typing import Any

from cerebra.brain import Brain
from cerebra.config import get_settings
from cerebra.context import RequestContext
from cerebra.observability.drift_setup import DRIFT_JOB, attach_drift
from tests.effects.base import Env, effect
from tests.observability.drift_world import HOUR, WEATHER, Recorder, stream, two_windows

DEFAULT = RequestContext(tenant_id="default")


def _check(brain: Brain, scope: str = "all", improvement: Any = None) -> dict[str, dict]:
    service = attach_drift(brain, get_settings(), improvement, notifier=Recorder())
    try:
        return {r["signal"]: r for r in service.detector.check(DEFAULT, scope)}
    finally:
        service.close()


def _hourly(brain: Brain, now: float) -> None:
    """10 interactions an hour over the last 10 hours, each in the middle of its slot."""
    stream(brain.engine, "default", start=now - 10 * HOUR + 180, end=now + 180, n=100,
           seed=0, words=WEATHER)


@effect("CEREBRA_DRIFT__CHECK_INTERVAL_S")
def _check_interval(env: Env) -> None:
    for every, expected in (("30", [30.0]), ("0", [])):
        brain = env.brain(CEREBRA_DRIFT__CHECK_INTERVAL_S=every,
                          CEREBRA_HOME=str(env.tmp / f"i{every}"))
        service = attach_drift(brain, get_settings())
        assert brain.jobs is not None
        found = [s.every_s for s in brain.jobs.schedules() if s.name == DRIFT_JOB]
        service.close()
        assert found == expected, (every, found)


@effect("CEREBRA_DRIFT__RECENT_S")
def _recent(env: Env) -> None:
    for recent, n in (("3600", 10), ("7200", 20)):  # 10 interactions an hour
        brain = env.brain(CEREBRA_DRIFT__RECENT_S=recent, CEREBRA_HOME=str(env.tmp / recent))
        _hourly(brain, time.time())
        report = _check(brain)["latency"]
        assert report["recent"]["n"] == n and report["recent"]["to"] - report[
            "recent"]["from"] == float(recent), (recent, report["recent"])


@effect("CEREBRA_DRIFT__REFERENCE_S")
def _reference(env: Env) -> None:
    for reference, n in (("3600", 10), ("18000", 50)):  # 10 interactions an hour
        brain = env.brain(CEREBRA_DRIFT__RECENT_S="3600", CEREBRA_DRIFT__REFERENCE_S=reference,
                          CEREBRA_HOME=str(env.tmp / reference))
        _hourly(brain, time.time())
        assert _check(brain)["latency"]["reference"]["n"] == n, reference


@effect("CEREBRA_DRIFT__ALPHA")
def _alpha(env: Env) -> None:
    # good-answer rate 0.8 then 0.6 over 60 rated answers a window: p ≈ 0.018
    for alpha, drifted in (("0.01", False), ("0.05", True)):
        brain = env.brain(CEREBRA_DRIFT__ALPHA=alpha, CEREBRA_HOME=str(env.tmp / alpha))
        now = time.time()
        stream(brain.engine, "default", start=now - 48 * HOUR, end=now - 24 * HOUR, n=60,
               seed=0, words=WEATHER, good=0.8, exact=True)
        stream(brain.engine, "default", start=now - 24 * HOUR, end=now, n=60, seed=0,
               words=WEATHER, good=0.6, exact=True)
        report = _check(brain)["feedback"]
        assert 0.01 < report["p_value"] < 0.05, report
        assert report["drifted"] is drifted, (alpha, report)


@effect("CEREBRA_DRIFT__MIN_SAMPLES")
def _min_samples(env: Env) -> None:
    for floor, tested in (("40", True), ("41", False)):  # 40 samples in each window
        brain = env.brain(CEREBRA_DRIFT__MIN_SAMPLES=floor, CEREBRA_HOME=str(env.tmp / floor))
        two_windows(brain.engine, "default", time.time(), n=40, shifted=True)
        reports = _check(brain)
        assert all((r["test"] != "none") is tested for r in reports.values()), (floor, reports)
        assert tested or not any(r["drifted"] for r in reports.values())
        assert all(r["reference"]["n"] == r["recent"]["n"] == 40 for r in reports.values())


@effect("CEREBRA_DRIFT__EMBEDDING_SAMPLES")
def _embedding_samples(env: Env) -> None:
    for k in ("20", "200"):
        brain = env.brain(CEREBRA_DRIFT__EMBEDDING_SAMPLES=k, CEREBRA_HOME=str(env.tmp / k))
        two_windows(brain.engine, "default", time.time(), n=100)
        expected = [min(int(k), 100)] * 2
        assert _check(brain)["embedding"]["effect"]["embedded"] == expected, k


@effect("CEREBRA_DRIFT__RETRAIN")
def _retrain(env: Env) -> None:
    from cerebra.improve.setup import attach_improvement
    from cerebra.improve.triggers import TriggerPolicy, TriggerStore

    for retrain, fired in (("true", True), ("false", False)):
        brain = env.brain(CEREBRA_DRIFT__RETRAIN=retrain, CEREBRA_IMPROVE__TRIGGER_CHECK_S="0",
                          CEREBRA_HOME=str(env.tmp / retrain))
        improvement = attach_improvement(brain, get_settings())
        runner = brain.jobs
        assert runner is not None

        def start(ctx: RequestContext, policy: TriggerPolicy, reason: str,
                  runner: Any = runner) -> str:  # a stand-in cycle: no training here
            return str(runner.submit("stand-in cycle", lambda job: reason,
                                     tenant_id=ctx.tenant_id))

        improvement.triggers.start_cycle = start
        TriggerStore(brain.engine).set(DEFAULT, TriggerPolicy(task="triage",
                                                              min_new_examples=10_000))
        two_windows(brain.engine, "default", time.time(), shifted=True)
        _check(brain, "task:triage", improvement)
        row = TriggerStore(brain.engine).get(DEFAULT, "triage")
        assert (row["fired"] == 1) is fired, (retrain, row)
        improvement.close()


@effect("CEREBRA_DRIFT__WEBHOOK_URL")
def _webhook_url(env: Env) -> None:
    from cerebra.observability.notify import LogNotifier
    from cerebra.observability.notify_webhook import SIGNATURE_HEADER, sign
    from tests.observability.costs_world import Receiver

    receiver = Receiver()
    try:
        brain = env.brain(CEREBRA_DRIFT__WEBHOOK_URL=receiver.url,
                          CEREBRA_COSTS__WEBHOOK_SECRET="s3cret")
        two_windows(brain.engine, "default", time.time(), shifted=True)
        service = attach_drift(brain, get_settings())
        service.detector.check(DEFAULT, "all")
        service.close()
        bodies = receiver.wait_for(4)
        assert sorted(b["data"]["signal"] for b in bodies) == [
            "embedding", "feedback", "latency", "score"]
        assert all(b["kind"] == "drift" and b["tenant_id"] == "default" for b in bodies)
        headers, _, raw = receiver.posts[0]
        assert headers[SIGNATURE_HEADER] == sign("s3cret", raw)
        alerts = service.detector.store.alerts("default")
        assert all(a["deliveries"][0]["ok"] for a in alerts) and len(alerts) == 4
    finally:
        receiver.close()
    quiet = env.brain(CEREBRA_DRIFT__WEBHOOK_URL="", CEREBRA_HOME=str(env.tmp / "quiet"))
    service = attach_drift(quiet, get_settings())
    assert isinstance(service.detector.notifier, LogNotifier)
    service.close()

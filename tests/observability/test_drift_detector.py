"""The drift detector over a real database (SQLite and PostgreSQL): a stream without a shift
is tested on all four signals and raises nothing; a shifted one drifts on all four, in every
scope (the tenant, its agent, its task), is alerted — stored and notified — once per recent
window, and starts the task's retraining through its trigger when drift.retrain is on;
each tenant's check reads only its own interactions."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import Engine

from cerebra.config import Settings
from cerebra.config_observe import DriftSettings
from cerebra.context import RequestContext
from cerebra.db.drift_tables import drift_alerts
from cerebra.improve.triggers import TriggerPolicy, TriggerStore
from cerebra.jobs.inprocess import InProcessRunner
from cerebra.observability.drift import SIGNALS, DriftDetector
from cerebra.observability.drift_setup import DRIFT_JOB, attach_drift, retrain_through
from cerebra.observability.drift_store import DriftStore
from cerebra.observability.notify import Delivery, Notification
from cerebra.testing import FakeEmbedder
from tests.improve.test_triggers import world  # noqa: F401  (a fixture)
from tests.observability.drift_world import HOUR, Recorder, two_windows

NOW = 1_800_000_000.0
ACME = RequestContext(tenant_id="acme")
GLOBEX = RequestContext(tenant_id="globex")
DAY = DriftSettings(recent_s=24 * HOUR, reference_s=24 * HOUR)


def detector(engine: Engine, settings: DriftSettings = DAY, **kw: object) -> DriftDetector:
    return DriftDetector(engine, settings, embedder=FakeEmbedder(),  # type: ignore[arg-type]
                         clock=kw.pop("clock", lambda: NOW),
                         notifier=kw.pop("notifier", Recorder()), **kw)


def by_key(reports: list[dict]) -> dict[tuple[str, str], dict]:
    return {(r["scope"], r["signal"]): r for r in reports}


def test_no_shift_is_tested_and_not_alerted(sql_engine: Engine) -> None:
    two_windows(sql_engine, "acme", NOW, seed=3)
    notifier = Recorder()
    check = detector(sql_engine, notifier=notifier)
    found = by_key(check.check(ACME))
    assert check.embedder.calls == 1  # type: ignore[union-attr]  # scopes share the vectors
    assert set(found) == {(s, sig) for s in ("all", "agent:helper", "task:triage")
                          for sig in SIGNALS}
    for report in found.values():
        assert report["test"] != "none" and report["p_value"] is not None, report
        assert report["reference"]["n"] == 150 and report["recent"]["n"] == 150
        assert report["recent"]["to"] == NOW and report["reference"]["to"] == NOW - 24 * HOUR
        assert not report["drifted"], report
        assert report["series"] and all(NOW - 48 * HOUR <= p["t"] <= NOW
                                        for p in report["series"])
    assert notifier.sent == []
    assert detector(sql_engine).store.alerts("acme") == []


def test_a_shift_drifts_every_signal_and_is_alerted_once(sql_engine: Engine) -> None:
    two_windows(sql_engine, "acme", NOW, shifted=True)
    two_windows(sql_engine, "globex", NOW, seed=7)  # another tenant, steady
    notifier = Recorder()
    check = detector(sql_engine, notifier=notifier)
    found = by_key(check.check(ACME))
    for scope in ("all", "agent:helper", "task:triage"):
        for signal in SIGNALS:
            assert found[(scope, signal)]["drifted"], found[(scope, signal)]
    assert found[("all", "embedding")]["effect"]["centroid_distance"] > 0.5
    assert found[("all", "latency")]["effect"]["recent_mean"] > found[
        ("all", "latency")]["effect"]["reference_mean"]
    assert found[("all", "feedback")]["test"] == "two-proportion-z"
    stored = check.store.alerts("acme")
    assert len(stored) == 12 and len(notifier.sent) == 12
    assert {(a["scope"], a["signal"]) for a in stored} == set(found)
    assert all(n.kind == "drift" and n.tenant_id == "acme" for n in notifier.sent)
    assert all(a["deliveries"] == [{"notifier": "recorder", "ok": True, "detail": ""}]
               for a in stored)
    again = check.check(ACME)  # the drift lasts: reported, not announced again
    assert all(r["drifted"] for r in again)
    assert len(check.store.alerts("acme")) == 12 and len(notifier.sent) == 12
    assert check.store.alerts("globex") == []
    assert not any(r["drifted"] for r in check.check(GLOBEX))
    assert check.store.reports("globex", "all")[0]["scope"] == "all"
    assert {r["scope"] for r in check.store.reports("acme")} == {"all", "agent:helper",
                                                                 "task:triage"}


class Broken(Recorder):
    def notify(self, notification: Notification) -> Delivery:
        raise ConnectionError("the webhook is down")


def test_a_failing_notifier_does_not_lose_the_alert(sql_engine: Engine) -> None:
    two_windows(sql_engine, "acme", NOW, shifted=True)
    check = detector(sql_engine, notifier=Broken())
    check.check(ACME, "all")
    alerts = check.store.alerts("acme")
    assert len(alerts) == 4
    assert all(a["deliveries"] == [{"notifier": "recorder", "ok": False,
                                    "detail": "the webhook is down"}] for a in alerts)


def test_too_few_samples_are_not_tested(sql_engine: Engine) -> None:
    two_windows(sql_engine, "acme", NOW, n=20, shifted=True)
    found = detector(sql_engine).check(ACME, "all")
    assert len(found) == 4
    assert all(r["test"] == "none" and not r["drifted"] and r["note"] for r in found)


def test_a_drift_alert_starts_the_tasks_retraining(sql_engine: Engine, world) -> None:  # noqa: F811
    machinery, started, _, _ = world  # the triggers' test world: cycles wait to be released
    two_windows(sql_engine, "acme", NOW, shifted=True)
    TriggerStore(sql_engine).set(ACME, TriggerPolicy(task="triage", min_new_examples=10_000))
    off = detector(sql_engine, retrain=retrain_through(machinery))
    off.check(ACME, "task:triage")
    assert started == []  # drift.retrain is off by default
    on = detector(sql_engine, DAY.model_copy(update={"retrain": True}),
                  retrain=retrain_through(machinery))
    with sql_engine.begin() as conn:  # forget the alerts, so the drift is announced again
        conn.execute(drift_alerts.delete())
    on.check(ACME, "task:triage")
    assert len(started) == 1 and started[0][:2] == ("acme", "triage")
    assert started[0][2].startswith("drift: ")
    alerts = on.store.alerts("acme")
    assert len(alerts) == 4  # one per signal, one retraining for them all
    (fired,) = {a["retraining"]["job_id"] for a in alerts}
    assert all(a["retraining"]["action"] == "fired" for a in alerts)
    assert "embedding drifted" in started[0][2] and "latency drifted" in started[0][2]
    row = TriggerStore(sql_engine).get(ACME, "triage")
    assert row["fired"] == 1 and row["active_job_id"] == fired
    on.check(ACME, "all")  # no trigger for scope all: nothing starts
    assert len(started) == 1
    with sql_engine.begin() as conn:
        conn.execute(drift_alerts.delete())
    on.check(ACME, "task:triage")  # the task's cycle still runs: skipped, not started twice
    assert len(started) == 1
    assert {a["retraining"]["action"] for a in on.store.alerts("acme", scope="task:triage")
            } == {"skipped"}


def test_the_periodic_check_runs_on_the_brains_runner(sql_engine: Engine,
                                                      tmp_path: Path) -> None:
    clock = [0.0]
    runner = InProcessRunner(sql_engine, scheduler=False, clock=lambda: clock[0])
    brain = SimpleNamespace(engine=sql_engine, jobs=runner,
                            memory=SimpleNamespace(embedder=FakeEmbedder()))
    settings = Settings(home=tmp_path, drift={"check_interval_s": 60})
    notifier = Recorder()
    service = attach_drift(brain, settings, notifier=notifier)  # type: ignore[arg-type]
    try:
        two_windows(sql_engine, "acme", time.time(), shifted=True)
        assert runner.run_due() == []  # first after one interval
        clock[0] = 61.0
        assert runner.run_due() == [DRIFT_JOB]
        assert len(notifier.sent) == 12
        assert len(DriftStore(sql_engine).alerts("acme")) == 12
    finally:
        service.close()
        runner.close()
    assert DRIFT_JOB not in [s.name for s in runner.schedules()]


def test_scopes_no_longer_active_leave_the_reports(sql_engine: Engine) -> None:
    two_windows(sql_engine, "acme", NOW, n=40, shifted=True, agent="old")
    check = detector(sql_engine)
    check.check(ACME)
    stored = check.store.reports("acme")
    assert {r["scope"] for r in stored} == {"all", "agent:old", "task:triage"}
    assert all(r["checked_at"] == NOW for r in stored)
    later = NOW + 5 * 24 * HOUR
    two_windows(sql_engine, "acme", later, n=40, agent="new", task=None)
    detector(sql_engine, clock=lambda: later).check(ACME)
    assert {r["scope"] for r in check.store.reports("acme")} == {"all", "agent:new"}
    assert check.store.alerts("acme")  # the alerts stay

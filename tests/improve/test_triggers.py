"""Retraining triggers: a policy fires after N new rated examples of its task (labels alone
do not count), or when the task's live score drifts below its baseline; never while its
last job still runs; each tenant's policies see only that tenant's signals; every check
leaves what it did on the policy."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from cerebra.context import RequestContext
from cerebra.errors import NotFound
from cerebra.improve.signals import Signal, SignalStore
from cerebra.improve.triggers import TriggerPolicy, Triggers
from cerebra.jobs.base import JobContext
from cerebra.jobs.inprocess import InProcessRunner
from tests.improve.test_signals_store import ACME, GLOBEX, seed


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def world(sql_engine: Engine) -> Iterator[tuple[Triggers, list[tuple[str, str, str]],
                                                threading.Event, Clock]]:
    runner = InProcessRunner(sql_engine)
    release = threading.Event()
    started: list[tuple[str, str, str]] = []

    def cycle(ctx: JobContext) -> str:
        release.wait(30)
        return "done"

    def start(context: RequestContext, policy: TriggerPolicy, reason: str) -> str:
        started.append((context.tenant_id, policy.task, reason))
        return runner.submit(f"improve {policy.task}", cycle, tenant_id=context.tenant_id)

    clock = Clock()
    try:
        yield Triggers(sql_engine, runner, start, clock=clock), started, release, clock
    finally:
        release.set()
        runner.close()


def rate(engine: Engine, context: RequestContext, task: str, values: list[float],
         at: float) -> None:
    store = SignalStore(engine)
    ids = seed(engine, context, [(f"q{i} {task}", f"a{i}") for i in range(len(values))])
    for trace, value in zip(ids, values, strict=True):
        store.add(context, Signal("label", trace, text=task, source="user:u", created_at=at))
        store.add(context, Signal("thumbs", trace, value, source="user:u", task=task,
                                  created_at=at))


def test_fires_after_n_new_rated_examples_and_not_twice_while_running(world) -> None:
    triggers, started, release, clock = world
    engine = triggers.engine
    triggers.store.set(ACME, TriggerPolicy(task="dates", min_new_examples=3))
    rate(engine, ACME, "dates", [1.0, 0.0], at=clock.now + 1)
    [waiting] = triggers.check(ACME)
    assert (waiting.action, waiting.new_examples) == ("waiting", 2)
    assert started == []
    rate(engine, ACME, "dates", [0.0], at=clock.now + 2)
    clock.now += 10
    [fired] = triggers.check(ACME)
    assert fired.action == "fired" and fired.job_id
    assert "3 new rated examples" in fired.reason
    assert started == [("acme", "dates", fired.reason)]
    rate(engine, ACME, "dates", [0.0, 0.0, 0.0], at=clock.now + 1)
    clock.now += 10
    [skipped] = triggers.check(ACME)  # the first job still runs: at most one per task
    assert skipped.action == "skipped" and skipped.job_id == fired.job_id
    release.set()
    triggers.runner.join(fired.job_id, timeout=30)
    [again] = triggers.check(ACME)  # the three ratings after the cursor count now
    assert again.action == "fired" and again.new_examples == 3
    row = triggers.store.get(ACME, "dates")
    assert row["fired"] == 2 and row["active_job_id"] == again.job_id
    assert row["last_event"]["action"] == "fired"


def test_a_drift_below_the_baseline_fires(world) -> None:
    triggers, _started, _, clock = world
    engine = triggers.engine
    triggers.store.set(ACME, TriggerPolicy(task="triage", min_new_examples=1000,
                                           drift_margin=0.2, baseline_score=0.9, window=5))
    rate(engine, ACME, "triage", [1.0, 1.0, 1.0, 1.0, 1.0], at=clock.now - 50)
    clock.now += 1
    assert triggers.check(ACME)[0].action == "waiting"  # live 1.0 ≥ 0.9 − 0.2
    rate(engine, ACME, "triage", [0.0, 0.0, 1.0, 0.0, 1.0], at=clock.now + 1)
    clock.now += 10
    [event] = triggers.check(ACME)  # the latest five: live 0.4 < 0.7
    assert event.action == "fired" and event.live_score == pytest.approx(0.4)
    assert "below the baseline" in event.reason


def test_tenants_see_only_their_own_signals_and_policies(world) -> None:
    triggers, started, _, clock = world
    triggers.store.set(ACME, TriggerPolicy(task="dates", min_new_examples=2))
    triggers.store.set(GLOBEX, TriggerPolicy(task="dates", min_new_examples=2))
    rate(triggers.engine, GLOBEX, "dates", [1.0, 0.0], at=clock.now + 1)
    clock.now += 10
    events = {e.tenant_id: e.action for e in triggers.check()}
    assert events == {"acme": "waiting", "globex": "fired"}
    assert [t for t, _, _ in started] == ["globex"]
    assert [p["task"] for p in triggers.store.list(ACME)] == ["dates"]
    assert triggers.store.delete(ACME, "dates")
    with pytest.raises(NotFound):
        triggers.store.get(ACME, "dates")
    assert triggers.store.get(GLOBEX, "dates")["fired"] == 1


def test_a_disabled_policy_is_never_checked(world) -> None:
    triggers, started, _, clock = world
    triggers.store.set(ACME, TriggerPolicy(task="dates", min_new_examples=1, enabled=False))
    rate(triggers.engine, ACME, "dates", [0.0], at=clock.now + 1)
    clock.now += 10
    assert triggers.check(ACME) == [] and started == []

"""Effect checks of the tracing settings (tracing.*): traces kept in the database or not,
how many, how many spans each, for how long, and spans reaching a local OTLP/HTTP
receiver."""

from __future__ import annotations

import time

from cerebra.brain import Brain
from cerebra.context import RequestContext
from cerebra.observability.trace_store import trace_page, trace_tree
from tests.effects.base import Env, effect
from tests.observability.otlp_receiver import otlp_receiver

ANA = RequestContext(user_id="ana")


def _kept(brain: Brain) -> list[str]:
    if brain.tracing is not None:
        brain.tracing.settle()
    page, _ = trace_page(brain.engine, ANA, limit=500)
    return [t["trace_id"] for t in page]


@effect("CEREBRA_TRACING__ENABLED")
def _enabled(env: Env) -> None:
    on = env.brain(CEREBRA_TRACING__ENABLED="true", CEREBRA_TRACING__SAMPLE_RATE="1")
    answer = on.ask("hello", context=ANA)
    assert _kept(on) == [answer.trace_id]
    off = env.brain(CEREBRA_TRACING__ENABLED="false", CEREBRA_TRACING__SAMPLE_RATE="1",
                    CEREBRA_HOME=str(env.tmp / "off"))
    off.ask("hello", context=ANA)
    assert off.tracing is None and _kept(off) == []


@effect("CEREBRA_TRACING__SAMPLE_RATE")
def _sample_rate(env: Env) -> None:
    for rate, kept in (("0", 0), ("1", 6)):
        brain = env.brain(CEREBRA_TRACING__SAMPLE_RATE=rate, CEREBRA_HOME=str(env.tmp / rate))
        for i in range(6):
            brain.ask(f"question {i}", context=ANA)
        assert len(_kept(brain)) == kept, rate
    brain = env.brain(CEREBRA_TRACING__SAMPLE_RATE="0.5", CEREBRA_HOME=str(env.tmp / "half"))
    assert brain.tracing is not None
    decided = [brain.tracing.begin().sampled for _ in range(400)]
    assert 100 < sum(decided) < 300  # about half (a 1e-20 chance to fall outside)


@effect("CEREBRA_TRACING__OTLP_ENDPOINT")
def _otlp_endpoint(env: Env) -> None:
    with otlp_receiver() as (url, received):
        brain = env.brain(CEREBRA_TRACING__OTLP_ENDPOINT=url, CEREBRA_TRACING__SAMPLE_RATE="1")
        answer = brain.ask("hello", context=ANA)
        assert brain.tracing is not None and brain.tracing.flush()
        assert "model.generate" in [s.name for s in received.by_trace(answer.trace_id)]


@effect("CEREBRA_TRACING__KEEP_DAYS")
def _keep_days(env: Env) -> None:
    later = time.time() + 2 * 86_400
    for days, left in (("1", 0), ("3", 1)):
        brain = env.brain(CEREBRA_TRACING__KEEP_DAYS=days, CEREBRA_TRACING__SAMPLE_RATE="1",
                          CEREBRA_HOME=str(env.tmp / days))
        brain.ask("hello", context=ANA)
        _kept(brain)
        assert brain.tracing is not None
        brain.tracing.store.prune(later)  # two days on
        assert len(_kept(brain)) == left, days


@effect("CEREBRA_TRACING__MAX_SPANS")
def _max_spans(env: Env) -> None:
    for bound in ("3", "64"):
        brain = env.brain(CEREBRA_TRACING__MAX_SPANS=bound, CEREBRA_TRACING__SAMPLE_RATE="1",
                          CEREBRA_HOME=str(env.tmp / bound))
        answer = brain.ask("hello", context=ANA)
        _kept(brain)
        found = trace_tree(brain.engine, ANA, answer.trace_id)
        assert found is not None
        assert len(found["spans"]) == min(int(bound), 10), bound

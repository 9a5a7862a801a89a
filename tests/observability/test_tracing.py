"""Tracing of the prompt path through the Brain (FakeModel, FakeEmbedder, real SQLite): the
spans of an answer are kept as a tree under the answer's own trace id, with the steps in
order and memory recall's signals; sampling (rate 0 keeps none, a forced trace is kept),
the span bound, errors, streams, pruning by age and tracing switched off."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from cerebra.brain import Brain
from cerebra.config import get_settings
from cerebra.context import RequestContext
from cerebra.errors import InvalidInput
from cerebra.exchange import Answer
from cerebra.observability.trace_store import trace_page, trace_tree
from cerebra.observability.tracing import NO_TRACE

FAST = {"CEREBRA_MODEL__FAKE": "true", "CEREBRA_MEMORY__EMBEDDER": "fake",
        "CEREBRA_HEALTH__INTERVAL_S": "0", "CEREBRA_TRACING__SAMPLE_RATE": "1"}
ANA = RequestContext(user_id="ana")
STEPS = ["policy", "memory.recall", "render", "model.generate", "policy.output", "remember",
         "sinks"]


@pytest.fixture
def make_brain(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    brains: list[Brain] = []

    def make(**env: str) -> Brain:
        for key, value in {**FAST, **env}.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        brain = Brain.from_settings(get_settings())
        brains.append(brain)
        return brain

    yield make
    for brain in brains:
        brain.close()


def tree(brain: Brain, trace_id: str, context: RequestContext = ANA) -> dict[str, Any]:
    assert brain.tracing is not None
    brain.tracing.settle()
    found = trace_tree(brain.engine, context, trace_id)
    assert found is not None, trace_id
    return found


def by_name(spans: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in spans}


def test_an_answer_is_kept_as_a_tree_under_its_trace_id(make_brain: Any) -> None:
    brain = make_brain()
    brain.ask("I drink green tea every morning", context=ANA)
    answer = brain.ask("what do I drink in the morning?", context=ANA)
    found = tree(brain, answer.trace_id)
    spans = found["spans"]
    root = spans[0]
    assert root["parent_id"] is None and root["name"] == "library"
    children = [s["name"] for s in spans if s["parent_id"] == root["span_id"]]
    assert children == STEPS  # in the order they ran
    sinks = by_name(spans)["sinks"]
    assert [s["name"] for s in spans if s["parent_id"] == sinks["span_id"]] == [
        "ledger", "audit"]
    assert all(s["status"] == "ok" for s in spans)
    assert found["trace_id"] == answer.trace_id == brain.ledger.get(answer.trace_id)[
        "trace_id"]
    assert found["model"] == answer.model and found["status"] == "ok"
    attrs = root["attributes"]
    assert attrs["cerebra.tenant_id"] == "default" and attrs["cerebra.user_id"] == "ana"
    assert attrs["gen_ai.usage.output_tokens"] == answer.usage.completion_tokens
    for span in spans[1:]:  # every step inside the request's time
        assert 0 <= span["start_ms"] <= root["duration_ms"]


def test_memory_recall_carries_each_memory_and_its_signals(make_brain: Any) -> None:
    brain = make_brain()
    brain.ask("I drink green tea every morning", context=ANA)
    answer = brain.ask("what do I drink in the morning?", context=ANA)
    recall = by_name(tree(brain, answer.trace_id)["spans"])["memory.recall"]["attributes"]
    assert recall["memory.count"] == len(answer.memories) > 0
    for i, hit in enumerate(answer.memories):
        assert recall[f"memory.{i}.id"] == hit.memory.uid
        assert recall[f"memory.{i}.score"] == pytest.approx(hit.score, abs=1e-6)
        for signal, value in hit.signals.items():
            assert recall[f"memory.{i}.signal.{signal}"] == pytest.approx(value, abs=1e-6)


def test_rate_zero_keeps_none_and_a_forced_trace_is_kept(make_brain: Any) -> None:
    brain = make_brain(CEREBRA_TRACING__SAMPLE_RATE="0")
    assert brain.tracing is not None
    for _ in range(5):
        assert brain.tracing.begin() is NO_TRACE  # decided: nothing made
    plain = brain.ask("hello there", context=ANA)
    forced = brain.ask("hello again", context=ANA,
                       trace=brain.tracing.begin("library", force=True))
    brain.tracing.settle()
    page, _ = trace_page(brain.engine, ANA)
    assert [t["trace_id"] for t in page] == [forced.trace_id]
    assert trace_tree(brain.engine, ANA, plain.trace_id) is None
    assert len(plain.trace_id) == 32 and brain.ledger.get(plain.trace_id) is not None


def test_spans_past_the_bound_are_counted_not_kept(make_brain: Any) -> None:
    brain = make_brain(CEREBRA_TRACING__MAX_SPANS="4")
    answer = brain.ask("hello there", context=ANA)
    found = tree(brain, answer.trace_id)
    assert len(found["spans"]) == 4
    root = found["spans"][0]
    assert root["attributes"]["cerebra.dropped_spans"] > 0


def test_a_refused_request_is_kept_with_its_error(make_brain: Any) -> None:
    brain = make_brain()
    trace = brain.tracing.begin("library", force=True)
    with pytest.raises(InvalidInput):
        brain.ask("hello", context=ANA, max_tokens=0, trace=trace)
    found = tree(brain, trace.trace_id)
    assert found["status"] == "error"
    assert found["spans"][0]["attributes"]["error.type"] == "InvalidInput"


def test_a_stream_is_traced_until_its_answer(make_brain: Any) -> None:
    brain = make_brain()
    *_, answer = list(brain.stream("tell me a story", context=ANA))
    assert isinstance(answer, Answer)
    names = [s["name"] for s in tree(brain, answer.trace_id)["spans"]]
    assert "model.stream" in names and "sinks" in names


def test_async_paths_are_traced(make_brain: Any) -> None:
    brain = make_brain()

    async def both() -> tuple[Answer, Answer]:
        answer = await brain.aask("hello async", context=ANA)
        last: Any = None
        async for item in brain.astream("a streamed one", context=ANA):
            last = item
        return answer, last

    answer, streamed = asyncio.run(both())
    assert "model.generate" in [s["name"] for s in tree(brain, answer.trace_id)["spans"]]
    assert "model.stream" in [s["name"] for s in tree(brain, streamed.trace_id)["spans"]]


def test_traces_older_than_keep_days_are_pruned(make_brain: Any) -> None:
    brain = make_brain(CEREBRA_TRACING__KEEP_DAYS="1")
    answer = brain.ask("hello there", context=ANA)
    tree(brain, answer.trace_id)
    store = brain.tracing.store
    assert store.prune() == 0  # a fresh trace stays
    import time

    assert store.prune(time.time() + 2 * 86_400) == 1
    assert trace_tree(brain.engine, ANA, answer.trace_id) is None


def test_tracing_off_makes_nothing(make_brain: Any) -> None:
    brain = make_brain(CEREBRA_TRACING__ENABLED="false")
    assert brain.tracing is None
    answer = brain.ask("hello there", context=ANA)
    assert len(answer.trace_id) == 32
    assert trace_page(brain.engine, ANA) == ([], None)


def test_the_routing_decision_and_its_attempts_sit_under_the_model_call(
        make_brain: Any) -> None:
    import json

    two = json.dumps([{"name": "a", "kind": "fake"}, {"name": "b", "kind": "fake"}])
    brain = make_brain(CEREBRA_CATALOG__INLINE=two, CEREBRA_ROUTER__STRATEGY="thompson")
    answer = brain.ask("hi", memory=False, context=ANA)
    assert answer.routing is not None
    spans = tree(brain, answer.trace_id)["spans"]
    named = by_name(spans)
    route = named["route"]
    assert route["parent_id"] == named["model.generate"]["span_id"]
    attrs = route["attributes"]
    assert attrs["route.strategy"] == "thompson"
    assert attrs["route.served_by"] == answer.routing["served_by"] == answer.model
    attempts = [s for s in spans if s["parent_id"] == route["span_id"]]
    assert [a["attributes"]["model.name"] for a in attempts] == [
        a["backend"] for a in answer.routing["attempts"]]
    assert attempts and attempts[-1]["attributes"]["attempt.ok"] is True


def test_migration_from_the_previous_revision(tmp_path: Any) -> None:
    from sqlalchemy import inspect

    from cerebra.db import make_engine, upgrade
    from cerebra.db.migrate import downgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine, "0027")
    assert not {"traces", "trace_spans"} & set(inspect(engine).get_table_names())
    upgrade(engine, "0028")
    assert {"traces", "trace_spans"} <= set(inspect(engine).get_table_names())
    downgrade(engine, "0027")
    assert not {"traces", "trace_spans"} & set(inspect(engine).get_table_names())
    engine.dispose()


def test_the_sdk_switched_off_by_its_variable_keeps_ids_unique(
        make_brain: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")  # the SDK's own off switch
    brain = make_brain()
    ids = {brain.ask(f"question {i}", context=ANA).trace_id for i in range(3)}
    assert len(ids) == 3 and "0" * 32 not in ids
    assert trace_page(brain.engine, ANA) == ([], None)


def test_an_untraced_request_starts_no_span(make_brain: Any) -> None:
    from opentelemetry.sdk.trace import SpanProcessor

    class Counting(SpanProcessor):
        started = 0

        def on_start(self, span: Any, parent_context: Any = None) -> None:
            Counting.started += 1

    brain = make_brain(CEREBRA_TRACING__SAMPLE_RATE="0")
    brain.tracing.provider.add_span_processor(Counting())
    brain.ask("hello there", context=ANA)
    list(brain.stream("and a stream", context=ANA))
    assert Counting.started == 0
    brain.ask("kept", context=ANA, trace=brain.tracing.begin("library", force=True))
    assert Counting.started > 5  # the same counter sees a traced request's spans

"""OTLP export: with tracing.otlp_endpoint set, a traced answer's spans reach a local
OTLP/HTTP receiver (protobuf, decoded with opentelemetry-proto) under the answer's trace id,
as one tree with the Brain's resource."""

from __future__ import annotations

import pytest

from cerebra.brain import Brain
from cerebra.config import get_settings
from cerebra.context import RequestContext
from tests.observability.otlp_receiver import attributes, otlp_receiver

FAST = {"CEREBRA_MODEL__FAKE": "true", "CEREBRA_MEMORY__EMBEDDER": "fake",
        "CEREBRA_HEALTH__INTERVAL_S": "0", "CEREBRA_TRACING__SAMPLE_RATE": "1"}


def _brain(monkeypatch: pytest.MonkeyPatch, **env: str) -> Brain:
    for key, value in {**FAST, **env}.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    return Brain.from_settings(get_settings())


def test_spans_are_exported_under_the_answers_trace_id(monkeypatch: pytest.MonkeyPatch) -> None:
    with otlp_receiver() as (url, received):
        brain = _brain(monkeypatch, CEREBRA_TRACING__OTLP_ENDPOINT=url)
        try:
            brain.ask("I drink green tea", context=RequestContext(user_id="ana"))
            answer = brain.ask("what do I drink?", context=RequestContext(user_id="ana"))
            assert brain.tracing is not None and brain.tracing.flush()
        finally:
            brain.close()
        spans = received.by_trace(answer.trace_id)
        names = [s.name for s in spans]
        assert {"library", "policy", "memory.recall", "render", "model.generate", "remember",
                "sinks", "ledger", "audit"} <= set(names)
        (root,) = [s for s in spans if not s.parent_span_id]
        ids = {s.span_id for s in spans}
        assert all(s.parent_span_id in ids for s in spans if s is not root)  # one tree
        assert attributes(root.attributes)["cerebra.user_id"] == "ana"
        assert root.end_time_unix_nano >= root.start_time_unix_nano > 0
        recall = next(s for s in spans if s.name == "memory.recall")
        assert attributes(recall.attributes)["memory.count"] == len(answer.memories)
        assert received.resources[0]["service.name"] == "cerebra"
        assert set(received.content_types) == {"application/x-protobuf"}


"""The kept traces' store on SQLite and PostgreSQL: a trace written through the span
processor reads back as the same tree with its attributes (lists, numbers, booleans), a
trace handed over twice is kept once, pruning by age, paging, and the bound on traces
waiting for their root."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from cerebra.config_observe import TracingSettings
from cerebra.context import RequestContext
from cerebra.db.trace_tables import trace_spans, traces
from cerebra.observability import trace_store
from cerebra.observability.trace_store import TENANT, FinishedTrace, trace_page, trace_tree
from cerebra.observability.tracing import Trace, Tracing

ACME = RequestContext(tenant_id="acme")


def _traced(tracing: Tracing, tenant: str = "acme") -> Trace:
    trace = tracing.begin("library", force=True)
    assert isinstance(trace, Trace)
    trace.set(**{TENANT: tenant, "cerebra.model": "m1"})
    with trace.step("memory.recall", k=3) as recall:
        recall.set(ids=("a", "b"), ok=True, share=0.25)
        with trace.step("inner", parent=recall):
            pass
    trace.end()
    return trace


@pytest.mark.parametrize("sql_engine", ["sqlite", "postgresql"], indirect=True)
def test_a_trace_reads_back_as_its_tree(sql_engine: Engine) -> None:
    tracing = Tracing(TracingSettings(sample_rate=1.0), sql_engine)
    try:
        trace = _traced(tracing)
        assert tracing.settle()
        found = trace_tree(sql_engine, ACME, trace.trace_id)
        assert found is not None and found["model"] == "m1" and found["status"] == "ok"
        root, recall, inner = found["spans"]
        assert (root["name"], recall["name"], inner["name"]) == ("library", "memory.recall",
                                                                  "inner")
        assert recall["parent_id"] == root["span_id"] and inner["parent_id"] == recall["span_id"]
        assert recall["attributes"] == {"k": 3, "ids": ["a", "b"], "ok": True, "share": 0.25}
        assert trace_tree(sql_engine, RequestContext(tenant_id="globex"), trace.trace_id) is None
        # handed over twice (a retried batch): kept once
        tracing.store._write([FinishedTrace(trace.root, ())])  # type: ignore[arg-type]
        with sql_engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(traces)).scalar() == 1
            assert conn.execute(select(func.count()).select_from(trace_spans)).scalar() == 3
        assert tracing.store.prune(time.time() + 8 * 86_400) == 1
        assert trace_page(sql_engine, ACME) == ([], None)
    finally:
        tracing.close()


@pytest.mark.parametrize("sql_engine", ["sqlite"], indirect=True)
def test_a_root_without_a_tenant_is_not_kept_and_waiting_traces_are_bounded(
        sql_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trace_store, "MAX_OPEN", 3)
    tracing = Tracing(TracingSettings(sample_rate=1.0), sql_engine)
    try:
        stranger = tracing.begin("other", force=True)  # no cerebra.tenant_id on its root
        stranger.end()
        open_traces: list[Any] = []
        for _ in range(5):  # children end, their roots never do
            trace = tracing.begin("library", force=True)
            with trace.step("policy"):
                pass
            open_traces.append(trace)
        assert len(tracing.store._open) == 3
        assert tracing.settle()
        with sql_engine.connect() as conn:  # nothing kept: no tenant, no root ended
            assert conn.execute(select(func.count()).select_from(traces)).scalar() == 0
        kept = _traced(tracing)
        assert tracing.settle()
        assert [t["trace_id"] for t in trace_page(sql_engine, ACME)[0]] == [kept.trace_id]
    finally:
        tracing.close()

"""SignalStore on SQLite and PostgreSQL: signals stored and listed per tenant, trust by
source, a label giving its trace's signals their task, the triggers' count, bad signals
refused naming the field, and judge verdicts and checker results recorded as signals."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

import pytest
from sqlalchemy import Engine, insert

from cerebra.context import RequestContext
from cerebra.db.schema import tenants
from cerebra.errors import InvalidInput, NotFound
from cerebra.improve.signals import Signal, SignalStore, record_check, record_verdict
from cerebra.judging.base import Verdict
from cerebra.judging.checker import Check
from cerebra.observability.ledger import InteractionRecord, Ledger

ACME = RequestContext(tenant_id="acme")
GLOBEX = RequestContext(tenant_id="globex")


def seed(engine: Engine, context: RequestContext,
         exchanges: Sequence[tuple[str, str]]) -> list[str]:
    """Interactions (prompt, answer) of `context`'s tenant through the real ledger; their
    trace ids, in order."""
    with engine.begin() as conn:
        for tenant in ("acme", "globex"):
            if conn.execute(tenants.select().where(tenants.c.id == tenant)).first() is None:
                conn.execute(insert(tenants).values(id=tenant, name=tenant,
                                                    created_at=time.time()))
    ledger = Ledger(engine)
    ids = []
    for prompt, answer in exchanges:
        trace_id = uuid.uuid4().hex
        ledger.record(InteractionRecord(
            trace_id=trace_id, tenant_id=context.tenant_id, endpoint="query", model="fake",
            prompt=prompt, rendered_prompt=f"[memories]\n{prompt}", response=answer,
            prompt_tokens=3, completion_tokens=2, latency_ms=1.0,
            user_id=context.user_id))
        ids.append(trace_id)
    ledger.close()
    return ids


@pytest.fixture
def store(sql_engine: Engine) -> SignalStore:
    return SignalStore(sql_engine)


def test_signals_are_stored_and_listed_newest_first(store: SignalStore) -> None:
    one, two = seed(store.engine, ACME, [("2+2?", "4"), ("capital of France?", "Lyon")])
    first = store.add(ACME, Signal("score", one, 0.9, "good", "user:ann", created_at=100.0))
    store.add(ACME, Signal("thumbs", two, 0.0, None, "user:ann", created_at=200.0))
    store.add(ACME, Signal("judge", two, 0.25, "wrong city", "judge:gemma", created_at=300.0))
    found = store.list(ACME)
    assert [(s.kind, s.trace_id) for s in found] == [("judge", two), ("thumbs", two),
                                                      ("score", one)]
    # trust by source: a user 1.0, a judge 0.7
    assert [s.trust for s in found] == [0.7, 1.0, 1.0]
    score = found[-1]
    assert (score.id, score.value, score.text, score.tenant) == (first, 0.9, "good", "acme")
    assert [s.kind for s in store.list(ACME, trace_id=two)] == ["judge", "thumbs"]
    assert [s.kind for s in store.list(ACME, kind="score")] == ["score"]
    assert [s.kind for s in store.list(ACME, since=150.0)] == ["judge", "thumbs"]
    assert len(store.list(ACME, limit=1)) == 1
    # an explicit trust is kept
    store.add(ACME, Signal("score", one, 1.0, None, "judge:panel", trust=0.2))
    assert store.list(ACME, kind="score")[0].trust == 0.2


def test_another_tenant_sees_nothing_and_cannot_signal_its_traces(store: SignalStore) -> None:
    (mine,) = seed(store.engine, ACME, [("hi", "hello")])
    store.add(ACME, Signal("score", mine, 1.0, source="user:ann"))
    assert store.list(GLOBEX) == [] and store.list(GLOBEX, trace_id=mine) == []
    with pytest.raises(NotFound) as exc:
        store.add(GLOBEX, Signal("score", mine, 0.0, source="user:eve"))
    assert exc.value.field == "trace_id"
    with pytest.raises(NotFound):
        store.add(ACME, Signal("score", "no-such-trace", 0.0, source="user:ann"))
    assert store.count_since(GLOBEX, None, 0.0) == 0
    assert len(store.list(ACME)) == 1


def test_a_label_gives_its_trace_a_task_and_the_count_follows(store: SignalStore) -> None:
    a, b, c = seed(store.engine, ACME, [("2+2?", "4"), ("3+3?", "7"), ("hi", "hey")])
    store.add(ACME, Signal("score", a, 1.0, source="user:ann"))
    store.add(ACME, Signal("label", a, text="math", source="user:ann"))
    store.add(ACME, Signal("correction", a, text="four", source="user:ann"))
    assert {s.kind: s.task for s in store.list(ACME, trace_id=a)} == {
        "score": "math", "label": "math", "correction": "math"}
    store.add(ACME, Signal("label", b, task="math", source="user:ann"))  # a bare label
    store.add(ACME, Signal("thumbs", c, 1.0, source="user:ann"))  # no task
    assert store.count_since(ACME, "math", 0.0) == 1  # b has only its label
    assert store.count_since(ACME, None, 0.0) == 2
    assert store.count_since(ACME, "math", time.time() + 60) == 0
    assert [s.trace_id for s in store.list(ACME, task="math", kind="label")] == [b, a]


@pytest.mark.parametrize(("signal", "field"), [
    (Signal("vote", "t", 1.0, source="user:a"), "kind"),
    (Signal("score", "t", 1.5, source="user:a"), "value"),
    (Signal("score", "t", None, source="user:a"), "value"),
    (Signal("thumbs", "t", 0.5, source="user:a"), "value"),
    (Signal("correction", "t", None, "  ", source="user:a"), "text"),
    (Signal("label", "t", source="user:a"), "text"),
    (Signal("score", "t", 0.5, source="robot:x"), "source"),
    (Signal("score", "t", 0.5, source="user:a", trust=1.5), "trust"),
    (Signal("score", " ", 0.5, source="user:a"), "trace_id"),
    (Signal("label", "t", source="user:a", task="x" * 201), "task"),
])
def test_bad_signals_are_refused_naming_the_field(store: SignalStore, signal: Signal,
                                                  field: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        store.add(ACME, signal)
    assert exc.value.field == field


def test_judge_verdicts_and_checker_results_become_signals(store: SignalStore) -> None:
    good, bad = seed(store.engine, ACME, [("2+2?", "4"), ("2+2?", "5")])
    verdict = Verdict("gemma", {"gemma": 1.0, "smol": 0.0}, "4 is right", "model:judge",
                      agreement=0.5)
    ids = record_verdict(store, ACME, verdict, {"gemma": good, "smol": bad}, task="math")
    judged = {s.trace_id: s for s in store.list(ACME, kind="judge")}
    assert len(ids) == 2 and set(judged) == {good, bad}
    assert judged[good].value == 1.0 and judged[bad].value == 0.0
    assert judged[good].source == "judge:model:judge" and judged[good].trust == 0.35
    assert judged[good].payload["winner"] == "gemma"
    assert judged[good].payload["group"] == judged[bad].payload["group"]
    assert judged[bad].payload["traces"] == {"gemma": good, "smol": bad}
    assert judged[good].task == "math" and judged[good].text == "4 is right"
    # a verdict that only followed the order the answers were shown in: nothing recorded
    biased = Verdict("gemma", {"gemma": 1.0, "smol": 0.0}, "first", "model:judge",
                     agreement=0.0)
    assert record_verdict(store, ACME, biased, {"gemma": good, "smol": bad}) == []
    unusable = Verdict(None, {"gemma": 0.5, "smol": 0.5}, "unparseable", "model:judge",
                       failures=("no JSON",))
    assert record_verdict(store, ACME, unusable, {"gemma": good}) == []
    assert len(store.list(ACME, kind="judge")) == 2
    # a checker's result on one trace (cerebra.judging.checker), and a kit's
    sid = record_check(store, ACME, bad, Check.exact("4").score("5"), "exact", task="math")
    (checked,) = store.list(ACME, kind="checker")
    assert (checked.id, checked.value, checked.source, checked.trust, checked.task) == (
        sid, 0.0, "checker:exact", 1.0, "math")
    assert checked.text and checked.payload == {}
    record_check(store, ACME, good, _Result(1.0, "", True), "kit:arith")
    kit = store.list(ACME, kind="checker", trace_id=good)[0]
    assert kit.payload == {"passed": True} and kit.text is None and kit.value == 1.0


class _Result:
    """A kit's check result (score, reason, passed)."""

    def __init__(self, score: float, reason: str, passed: bool) -> None:
        self.score, self.reason, self.passed = score, reason, passed

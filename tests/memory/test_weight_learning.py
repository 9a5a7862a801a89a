"""Weights that learn (issue 12, item 6): the online update rule (helpful moves up, bounded,
capped drift), the versions on SQLite and PostgreSQL (reset, rollback, tenants apart), and
searches ranking with the scope's learned weights — a tiny replay in which learned weights
fix a ranking the defaults get wrong."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine

from cerebra.bench.locomo import conversation_memories, load_locomo, scope_id
from cerebra.bench.online_weights import bootstrap_ci, run_online_weights
from cerebra.context import RequestContext
from cerebra.errors import InvalidInput, NotFound
from cerebra.memory.learned_weights import LearnedWeights
from cerebra.memory.retrieval import RetrievalWeights
from cerebra.memory.sqlite import SQLiteBackend
from cerebra.memory.store import MemoryStore
from cerebra.memory.weight_learning import LearningRule, project, update, weights_dict
from cerebra.testing import FakeEmbedder

DEFAULTS = weights_dict(RetrievalWeights())
# a ranking where the helpful memory matches the query's words (text) and the unhelpful
# one only its meaning (vector): the defaults put the unhelpful one first
RANKED = [("good", {"text": 0.5 * 0.8, "vector": 0.5 * 0.2}),
          ("bad", {"text": 0.5 * 0.1, "vector": 0.5 * 1.0})]


def _score(weights: dict[str, float], signals: dict[str, float]) -> float:
    return sum(weights[s] * v / DEFAULTS[s] for s, v in signals.items())


def test_a_step_moves_the_helpful_memory_up() -> None:
    rule = LearningRule(rate=0.2, bound=2.0, drift=2.0)
    step = update(DEFAULTS, DEFAULTS, RANKED, ["good"], ["bad"], DEFAULTS, rule)
    assert step is not None and step.pairs == 1 and step.loss > math.log(2)
    assert step.weights["text"] > DEFAULTS["text"] and step.weights["vector"] < DEFAULTS["vector"]
    before = _score(DEFAULTS, RANKED[0][1]) - _score(DEFAULTS, RANKED[1][1])
    learned = {**DEFAULTS, **step.weights}
    after = _score(learned, RANKED[0][1]) - _score(learned, RANKED[1][1])
    assert after > before
    # signals every candidate shares (importance, recency here) teach nothing: unchanged
    assert step.weights["importance"] == DEFAULTS["importance"]


def test_steps_stay_within_the_bound_and_the_drift_cap() -> None:
    rule = LearningRule(rate=0.5, bound=1.5, drift=0.6)
    weights = dict(DEFAULTS)
    for _ in range(50):
        step = update(weights, DEFAULTS, RANKED, ["good"], ["bad"], DEFAULTS, rule)
        assert step is not None
        weights = {**weights, **step.weights}
    logs = {s: math.log(weights[s] / DEFAULTS[s]) for s in DEFAULTS if DEFAULTS[s] > 0}
    assert all(abs(v) <= math.log(1.5) + 1e-9 for v in logs.values())
    assert sum(abs(v) for v in logs.values()) == pytest.approx(0.6, abs=1e-6)
    assert weights["text"] > DEFAULTS["text"] and weights["vector"] < DEFAULTS["vector"]


def test_projection_is_onto_the_box_and_the_l1_ball() -> None:
    inside = np.array([0.1, -0.2, 0.0])
    assert np.allclose(project(inside, 2.0, 1.0), inside)
    out = project(np.array([3.0, -2.0, 0.1]), 2.0, 1.0)
    assert np.abs(out).max() <= math.log(2.0) + 1e-12
    assert np.abs(out).sum() == pytest.approx(1.0, abs=1e-9)
    assert out[0] > 0 > out[1] and out[2] == 0.0  # signs kept, the small one cut first


def test_an_event_without_a_pair_or_with_bad_rules_teaches_nothing() -> None:
    rule = LearningRule()
    assert update(DEFAULTS, DEFAULTS, RANKED, ["good"], [], DEFAULTS, rule) is None
    assert update(DEFAULTS, DEFAULTS, RANKED, ["elsewhere"], ["bad"], DEFAULTS, rule) is None
    for bad in ({"rate": -0.1}, {"bound": 0.5}, {"drift": float("nan")}):
        with pytest.raises(InvalidInput):
            LearningRule(**bad)


def test_versions_reset_and_rollback(sql_engine: Engine) -> None:
    learned = LearnedWeights.on(sql_engine, RetrievalWeights())
    assert learned.weights_for("t1", "helper") == RetrievalWeights()  # nothing learned yet
    first = learned.learn("t1", None, RANKED, ["good"], ["bad"], DEFAULTS)
    assert first is not None and (first.version, first.event, first.updates) == (1, "update", 1)
    second = learned.learn("t1", None, RANKED, ["good"], ["bad"], DEFAULTS)
    assert second is not None and second.version == 2 and second.updates == 2
    tenant = learned.weights_for("t1", "helper")  # no agent weights: the tenant's
    assert tenant.text == pytest.approx(second.weights["text"]) and tenant.text > 0.5
    assert learned.weights_for("t2", None) == RetrievalWeights()  # another tenant: defaults

    agent = learned.learn("t1", "helper", RANKED, ["bad"], ["good"], DEFAULTS)
    assert agent is not None and agent.version == 1  # the agent's own versions
    assert learned.weights_for("t1", "helper").text < tenant.text  # started from the tenant's
    assert learned.weights_for("t1", "other").text == tenant.text

    reset = learned.reset("t1", None)
    assert (reset.version, reset.event) == (3, "reset")
    assert learned.weights_for("t1", None) == RetrievalWeights()
    back = learned.rollback("t1", None, 2)
    assert (back.version, back.event, back.based_on) == (4, "rollback", 2)
    assert learned.weights_for("t1", None).text == pytest.approx(second.weights["text"])
    shown = learned.describe("t1", None)
    assert [v["event"] for v in shown["history"]] == ["rollback", "reset", "update", "update"]
    assert shown["source"] == "tenant" and shown["version"] == 4
    assert learned.describe("t1", "helper")["source"] == "agent"
    with pytest.raises(NotFound):
        learned.rollback("t1", None, 9)
    with pytest.raises(NotFound):  # another tenant's versions are not this one's
        learned.rollback("t2", None, 1)

    # another process (a second LearnedWeights) sees the versions written by this one
    other = LearnedWeights.on(sql_engine, RetrievalWeights())
    assert other.weights_for("t1", None).text == pytest.approx(second.weights["text"])


def test_learned_weights_are_kept_within_todays_bounds() -> None:
    learned = LearnedWeights(None, RetrievalWeights(), LearningRule(bound=1.5))  # type: ignore[arg-type]
    applied = learned.apply({"text": 5.0, "vector": 0.01})
    assert applied.text == pytest.approx(0.75) and applied.vector == pytest.approx(0.5 / 1.5)
    assert applied.speaker == RetrievalWeights().speaker


def _store(tmp_path: Path, engine: Engine) -> MemoryStore:
    store = MemoryStore(SQLiteBackend(str(tmp_path / "memory.db")), FakeEmbedder())
    store.learned = LearnedWeights.on(engine, store.weights, LearningRule(rate=0.5))
    return store


def test_search_ranks_with_the_scopes_learned_weights(tmp_path: Path, sql_engine: Engine
                                                      ) -> None:
    store = _store(tmp_path, sql_engine)
    (conv,) = load_locomo(_dataset(tmp_path, 1))
    store.put(conversation_memories(store, conv))
    ctx = RequestContext(tenant_id="default")
    question = conv.questions[0].text
    hits = store.search(scope_id(conv), question, k=5, explain=True, context=ctx)
    assert hits[0].memory.metadata["dia_id"] != "D1:1"  # the defaults: the decoy first
    wanted = next(h.memory.uid for h in hits if h.memory.metadata["dia_id"] == "D1:1")
    ranked = [(h.memory.uid, h.signals) for h in hits]
    others = [uid for uid, _ in ranked if uid != wanted]
    in_force = weights_dict(store.weights)
    assert store.learned is not None
    for _ in range(5):
        store.learned.learn("default", None, ranked, [wanted], others, in_force)
    assert store.weights_for(store.scope(scope_id(conv), context=ctx)).text > store.weights.text
    after = store.search(scope_id(conv), question, k=5, context=ctx)
    assert after[0].memory.uid == wanted  # the learned weights put the helpful one first
    other_tenant = RequestContext(tenant_id="t2")
    assert store.weights_for(store.scope(None, context=other_tenant)) == store.weights
    store.learned.reset("default", None)
    assert store.search(scope_id(conv), question, k=5)[0].memory.uid != wanted  # defaults


def _dataset(tmp_path: Path, conversations: int) -> Path:
    data = tmp_path / "tiny.json"
    data.write_text(json.dumps([_conversation(n) for n in range(conversations)]))
    return data


def _conversation(n: int) -> dict[str, object]:
    """A LoCoMo-format conversation where each question's answer holds one rare word of it
    (full text finds it) and a decoy turn several of its common words (the fake embedder's
    word overlap prefers the decoy): the defaults rank the decoy first."""
    conv: dict[str, object] = {"speaker_a": "Ann", "speaker_b": "Bob"}
    qa = []
    for i in range(1, 7):
        topic = f"topic{n}x{i}"
        conv[f"session_{i}"] = [
            {"speaker": "Bob", "dia_id": f"D{i}:1",
             "text": f"{topic} is my favourite bread recipe from grandma"},
            {"speaker": "Ann", "dia_id": f"D{i}:2", "text": f"nice weather today {i}"},
            {"speaker": "Ann", "dia_id": f"D{i}:3", "text": f"so what did you say then {i}"},
        ]
        conv[f"session_{i}_date_time"] = "1:56 pm on 8 May, 2023"
        qa.append({"question": f"what did you say about {topic}", "answer": "bread",
                   "evidence": [f"D{i}:1"], "category": 4})
    return {"sample_id": f"conv-{n}", "qa": qa, "conversation": conv}


def test_a_tiny_replay_learns_what_the_defaults_get_wrong(tmp_path: Path) -> None:
    report = run_online_weights(_dataset(tmp_path, 4), FakeEmbedder(),
                                rule=LearningRule(rate=0.5), k=1, pool=6)
    for split in report["splits"]:
        assert split["updates"] > 0
        assert split["weights"]["text"] > report["defaults"]["text"]
        r1 = split["R@1"]
        assert r1["learned"] > r1["static"] and r1["ci95"][0] > 0
    assert report["pooled_R@1"]["gain"] > 0


def test_bootstrap_interval_brackets_the_mean() -> None:
    low, high = bootstrap_ci([0.0, 0.1, 0.2, 0.1, 0.0, 0.3])
    assert low < 0.1166 < high
    assert bootstrap_ci([]) == (0.0, 0.0)


def test_concurrent_feedback_steps_one_at_a_time(sql_engine: Engine) -> None:
    from concurrent.futures import ThreadPoolExecutor

    learned = LearnedWeights.on(sql_engine, RetrievalWeights())
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: learned.learn("t1", None, RANKED, ["good"], ["bad"], DEFAULTS),
                      range(8)))
    history = learned.versions.history("t1", "")
    assert [v.version for v in history] == list(range(8, 0, -1))
    assert [v.updates for v in history] == list(range(8, 0, -1))  # none lost

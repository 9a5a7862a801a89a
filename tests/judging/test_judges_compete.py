"""compete(): models and agents answer through a real Brain (fake models from the catalog, a
learning router, the real database), a judge decides, and the verdict reaches the ledger
and the router (feedback), the agents' records and sandbox, and the judging store; the
seed's `Judge(model, registry).compete("hello", agents).winner_id`; a model judge over the
OpenAI wire format (a local server) and through Brain."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from cerebra.agents import AgentRegistry, UnknownAgent
from cerebra.auth.identity import IdentityStore
from cerebra.brain import Brain
from cerebra.config import get_settings
from cerebra.context import RequestContext
from cerebra.errors import InvalidInput, NotFound
from cerebra.judging.checker import Check, CheckerJudge
from cerebra.judging.compete import Contestant, Judge, as_contestant, compete
from cerebra.judging.model_judge import ModelJudge
from cerebra.judging.store import JudgingStore
from cerebra.models.openai_http import OpenAIHTTPBackend
from cerebra.testing import FakeModel
from tests.fakes.faults import FaultPlan
from tests.fakes.openai_server import make_openai_app
from tests.helpers import running_server

CATALOG = """
models:
  - {name: alpha, kind: fake, options: {reply: "alpha here"}}
  - {name: beta, kind: fake, options: {reply: "beta here"}}
"""
ACME = RequestContext(tenant_id="acme")


@pytest.fixture
def brain(monkeypatch: pytest.MonkeyPatch) -> Iterator[Brain]:
    for name, value in (("CEREBRA_EMBEDDED_MODEL", "false"), ("CEREBRA_EMBEDDER", "fake"),
                        ("CEREBRA_MODELS", CATALOG), ("CEREBRA_ROUTER_STRATEGY", "thompson"),
                        ("CEREBRA_HEALTH_INTERVAL_S", "0")):
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    made = Brain.from_settings()
    IdentityStore(made.engine).create_tenant("acme")
    yield made
    made.close()


def _block(prompt: str, label: str) -> str:
    found = re.search(rf"\[Answer {label}\]\n(.*?)\n\[End of answer {label}\]", prompt, re.S)
    return found.group(1) if found else ""


def verdict_for(word: str, prompt: str) -> str:
    """A fair judge's reply: the answer that mentions `word` wins in either place."""
    a, b = _block(prompt, "A"), _block(prompt, "B")
    if (word in a) == (word in b):
        return '{"winner": "tie", "reason": "alike"}'
    return json.dumps({"winner": "A" if word in a else "B", "reason": f"says {word}"})


def test_models_compete_and_feedback_reaches_ledger_and_router(brain: Brain) -> None:
    judge = CheckerJudge(Check.normalized("beta here"))
    result = compete("Say who you are.", [Contestant("routed"), "model:beta"], judge=judge,
                     brain=brain, context=ACME)
    routed, beta = result.entries
    assert beta.answer == "beta here" and beta.model == "beta" and beta.score == 1.0
    assert routed.model in ("alpha", "beta") and routed.trace_id
    assert result.tenant_id == "acme" and result.verdict.judge == "checker:normalized"
    for entry in result.entries:  # each judged answer's score is its feedback
        row = brain.ledger.get(entry.trace_id, context=ACME)
        assert row is not None and row["quality"] == entry.score
        assert result.id in row["feedback_comment"]
    assert brain.router is not None
    decision_id = brain.ledger.get(routed.trace_id, context=ACME)["decision_id"]  # type: ignore[index]
    decision = brain.router.get_decision(decision_id)
    assert decision is not None and decision.quality == routed.score
    assert result.effects["feedback"]["routed"] == decision.reward
    assert result.effects["feedback"]["beta"] == "recorded"  # named: no routing decision
    if routed.model == "alpha":
        assert result.winner_id == "beta"
    else:
        assert result.winner_id is None  # both said "beta here"


def test_agents_compete_records_sandbox_and_store(brain: Brain) -> None:
    registry = AgentRegistry(brain.engine, context=ACME)
    registry.ensure("alice", ["brave"], preferred_models=["alpha"])
    registry.ensure("bob", ["lazy"], preferred_models=["beta"])
    store = JudgingStore(brain.engine)
    judge = ModelJudge(FakeModel(lambda p: verdict_for("alpha", p), name="judge"))
    result = compete("Who are you?", ["alice", "bob"], judge=judge, brain=brain,
                     registry=registry, store=store, sandbox_losers=True)
    assert result.winner_id == "alice" and result.agreement == 1.0
    assert [e.kind for e in result.entries] == ["agent", "agent"]
    assert result.entries[0].model == "alpha" and result.entries[1].model == "beta"
    alice, bob = registry.get("alice"), registry.get("bob")
    assert (alice.n, alice.successes) == (1, 1) and (bob.n, bob.successes) == (1, 0)
    assert bob.sandboxed and result.effects["sandboxed"] == ["bob"]
    assert "lost competition" in registry.history("bob")[-1].reason
    stored = store.get_competition(ACME, result.effects["stored"])
    assert stored["winner_id"] == "alice"
    with pytest.raises(NotFound):  # another tenant cannot see it
        store.get_competition(RequestContext(tenant_id="other"), result.id)
    # a sandboxed agent still competes (never for users), and a tie records nobody on top
    again = compete("Again?", ["alice", "bob"], judge=ModelJudge(FakeModel(
        '{"winner": "A"}')), brain=brain, registry=registry)
    assert again.winner_id is None and again.entries[1].answer == "beta here"
    assert registry.get("alice").n == 1 and again.effects["records"] == {}


def test_an_unparseable_judge_is_a_stored_tie_with_its_reason(brain: Brain) -> None:
    store = JudgingStore(brain.engine)
    judge = ModelJudge(FakeModel("I like the first one.", name="mumbler"))
    result = compete("Who are you?", ["model:alpha", "model:beta"], judge=judge,
                     brain=brain, context=ACME, store=store)
    assert result.winner_id is None and result.scores == {"alpha": 0.5, "beta": 0.5}
    stored = store.get_competition(ACME, result.id)
    assert stored["winner_id"] is None and len(stored["failures"]) == 2
    assert all("unparseable reply, no JSON in it" in f for f in stored["failures"])
    assert stored["comparisons"] == [{"a": "alpha", "b": "beta", "outcome": "tie"}]
    assert result.effects["feedback"].startswith("skipped")  # no made-up ratings
    for entry in result.entries:
        assert brain.ledger.get(entry.trace_id, context=ACME)["quality"] is None  # type: ignore[index]


def test_a_judge_that_only_follows_the_order_teaches_nothing(brain: Brain) -> None:
    always_first = ModelJudge(FakeModel('{"winner": "A", "reason": "the first"}',
                                        name="first-picker"))
    result = compete("Who are you?", ["model:alpha", "model:beta"], judge=always_first,
                     brain=brain, context=ACME)
    assert result.winner_id is None and result.verdict.agreement == 0.0
    assert not result.verdict.failures  # parsed, but each order picked its first answer
    assert "followed the answers' order" in result.effects["feedback"]
    for entry in result.entries:
        assert brain.ledger.get(entry.trace_id, context=ACME)["quality"] is None  # type: ignore[index]


def test_the_seed_call(brain: Brain) -> None:
    registry = AgentRegistry()  # the configured database, the default tenant
    agents = [registry.ensure("alice", ["brave", "curious"], preferred_models=["alpha"]),
              registry.ensure("bob", ["careful"], preferred_models=["beta"])]
    model = FakeModel(lambda p: verdict_for("alpha", p), name="judge")
    judge = Judge(model, registry)
    try:
        assert judge.compete("hello", agents).winner_id == "alice"
    finally:
        judge.close()
    assert registry.get("alice").successes == 1


def test_bad_contestants(brain: Brain) -> None:
    judge = CheckerJudge(Check.exact("x"))
    with pytest.raises(InvalidInput, match="at least two"):
        compete("q", ["model:alpha"], judge=judge, brain=brain)
    with pytest.raises(InvalidInput, match="distinct"):
        compete("q", ["model:alpha", "model:alpha"], judge=judge, brain=brain)
    with pytest.raises(InvalidInput, match="prompt"):
        compete("  ", ["model:alpha", "model:beta"], judge=judge, brain=brain)
    with pytest.raises(InvalidInput, match="cannot compete"):
        as_contestant(3.5, agents=False)
    registry = AgentRegistry(brain.engine, context=ACME)
    registry.ensure("alice", [])
    with pytest.raises(UnknownAgent):  # 404, not a silent loss
        compete("q", ["alice", "nobody"], judge=judge, brain=brain, registry=registry)


def test_a_failing_contestant_scores_zero(brain: Brain) -> None:
    broken = FakeModel("never said", name="tiny", max_context=2)
    result = compete("A question long enough to overflow.", [broken, "model:alpha"],
                     judge=CheckerJudge(Check.regex("never")), brain=brain)
    tiny, alpha = result.entries
    assert tiny.error.startswith("prompt_too_long") and tiny.score == 0.0
    assert alpha.answer == "alpha here" and alpha.score == 0.0 and not alpha.error
    assert result.winner_id is None  # alpha answered but failed the check too: 0 and 0
    assert "tiny gave no answer" in result.rationale


# -- a remote judge over the OpenAI wire format --------------------------------------------
def test_model_judge_over_the_openai_wire(brain: Brain) -> None:
    def answer(model: str, text: str) -> str:
        if "position" in model:
            return '{"winner": "A", "reason": "first is best"}'
        if "garbled" in model:
            return "Answer A, definitely."
        return verdict_for("Paris", text)

    plan = FaultPlan()
    answers = {"good": "Paris.", "bad": "Rome."}
    with running_server(make_openai_app(plan, answer=answer)) as base:
        def remote(model: str) -> OpenAIHTTPBackend:
            return OpenAIHTTPBackend(f"{base}/v1", model, name=model, api_key="sk-test")

        fair = ModelJudge(remote("fair-judge")).judge("Capital of France?", answers)
        assert fair.winner == "good" and fair.agreement == 1.0
        assert "says Paris" in fair.rationale
        sent = [r for r in plan.requests if r["body"]["model"] == "fair-judge"]
        assert len(sent) == 2 and sent[0]["body"]["temperature"] == 0.0
        assert sent[0]["body"]["messages"][0]["role"] == "system"
        biased = ModelJudge(remote("position-judge")).judge("Capital of France?", answers)
        assert biased.tie and biased.agreement == 0.0
        garbled = ModelJudge(remote("garbled-judge")).judge("Capital of France?", answers)
        assert garbled.tie and "unparseable" in garbled.failures[0]
        plan.add("500", model="fair-judge", times=8)
        failed = ModelJudge(remote("fair-judge")).judge("Capital of France?", answers)
        assert failed.tie and "the judge model failed" in failed.failures[0]
        plan.clear()
        brain.models.add(remote("fair-judge"), name="remote-judge")  # a registered model
        through = ModelJudge("remote-judge", brain=brain, context=ACME)
        assert through.judge("Capital of France?", answers).winner == "good"
        judged = brain.ledger.recent(5, "acme")
        assert {r["endpoint"] for r in judged} == {"judge"}

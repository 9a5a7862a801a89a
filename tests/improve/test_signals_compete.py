"""compete() through a real Brain leaves the verdict as `judge` signals on the judged traces
(the competition's category is their task, its id their group), not as a user's score; the
pair it makes reaches training_examples; a position-only verdict leaves no signal."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cerebra.auth.identity import IdentityStore
from cerebra.brain import Brain
from cerebra.config import get_settings
from cerebra.improve.signals import SignalStore, training_examples
from cerebra.judging.checker import Check, CheckerJudge
from cerebra.judging.compete import compete
from cerebra.judging.model_judge import ModelJudge
from cerebra.testing import FakeModel
from tests.judging.test_judges_compete import ACME, CATALOG


@pytest.fixture
def brain(monkeypatch: pytest.MonkeyPatch) -> Iterator[Brain]:
    for name, value in (("CEREBRA_EMBEDDED_MODEL", "false"), ("CEREBRA_EMBEDDER", "fake"),
                        ("CEREBRA_MODELS", CATALOG), ("CEREBRA_HEALTH_INTERVAL_S", "0")):
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    made = Brain.from_settings()
    IdentityStore(made.engine).create_tenant("acme")
    yield made
    made.close()
    get_settings.cache_clear()


def test_a_competition_leaves_judge_signals_on_its_traces(brain: Brain) -> None:
    judge = CheckerJudge(Check.normalized("beta here"))
    result = compete("Who are you?", ["model:alpha", "model:beta"], judge=judge, brain=brain,
                     context=ACME, category="intro")
    alpha, beta = result.entries
    assert result.effects["signals"] == 2
    store = SignalStore(brain.engine)
    found = {s.trace_id: s for s in store.list(ACME)}
    assert set(found) == {alpha.trace_id, beta.trace_id}  # judge signals only, no user score
    assert {s.kind for s in found.values()} == {"judge"}
    assert found[beta.trace_id].value == 1.0 and found[alpha.trace_id].value == 0.0
    assert found[beta.trace_id].source == "judge:checker:normalized"
    assert {s.payload["group"] for s in found.values()} == {result.id}
    assert {s.task for s in found.values()} == {"intro"}
    # the ledger still has the rating (router and memory feedback unchanged)
    assert brain.ledger.get(beta.trace_id, context=ACME)["quality"] == 1.0  # type: ignore[index]
    _, pairs = training_examples(brain.engine, ACME, task="intro")
    assert [(p.prompt, p.chosen, p.rejected, p.trace_id) for p in pairs] == [
        ("Who are you?", "beta here", "alpha here", beta.trace_id)]


def test_a_position_only_verdict_leaves_no_signal(brain: Brain) -> None:
    judge = ModelJudge(FakeModel(lambda p: '{"winner": "A", "reason": "first"}', name="j"))
    result = compete("Who are you?", ["model:alpha", "model:beta"], judge=judge, brain=brain,
                     context=ACME)
    assert result.agreement == 0.0 and "signals" not in result.effects
    assert SignalStore(brain.engine).list(ACME) == []

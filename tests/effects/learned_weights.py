"""Effect checks of weights that learn (memory.learn_weights, weights_rate, weights_bound):
one feedback event on a ranking, observed in the weights the scope then searches with."""

from __future__ import annotations

import math

from cerebra.brain import Brain
from cerebra.memory.retrieval import RetrievalWeights
from cerebra.memory.weight_learning import weights_dict
from tests.effects.base import Env, effect


def _taught(brain: Brain) -> RetrievalWeights:
    """Feedback that the memory naming the rare word helped and the one sharing the
    question's common words did not; the weights the agent's searches then use."""
    store = brain.memory
    store.add("a", "zanzibar is where my favourite bread recipe comes from")
    store.add("a", "so what did you say then")
    hits = store.search("a", "what did you say about zanzibar", k=2, explain=True)
    good = [h.memory.uid for h in hits if "zanzibar" in h.memory.text]
    bad = [h.memory.uid for h in hits if h.memory.uid not in good]
    if store.learned is not None:
        in_force = weights_dict(store.weights)
        store.learned.learn("default", "a", [(h.memory.uid, h.signals) for h in hits], good,
                            bad, in_force)
    return store.weights_for(store.scope("a"))


def _moved(brain: Brain) -> float:
    """The largest |log(learned / default)| over the learnable weights after one event."""
    learned, defaults = weights_dict(_taught(brain)), weights_dict(brain.memory.weights)
    return max(abs(math.log(learned[s] / defaults[s])) for s in defaults if defaults[s] > 0)


@effect("CEREBRA_MEMORY__LEARN_WEIGHTS")
def _learn_weights(env: Env) -> None:
    on = env.brain(CEREBRA_MEMORY__LEARN_WEIGHTS="true", CEREBRA_HOME=str(env.tmp / "on"))
    assert on.memory.learned is not None and _moved(on) > 0
    off = env.brain(CEREBRA_MEMORY__LEARN_WEIGHTS="false", CEREBRA_HOME=str(env.tmp / "off"))
    assert off.memory.learned is None and _moved(off) == 0


@effect("CEREBRA_MEMORY__WEIGHTS_RATE")
def _weights_rate(env: Env) -> None:
    moved = {rate: _moved(env.brain(CEREBRA_MEMORY__WEIGHTS_RATE=rate,
                                    CEREBRA_HOME=str(env.tmp / rate)))
             for rate in ("0", "0.02", "0.2")}
    assert moved["0"] == 0 < moved["0.02"] <= 0.02 + 1e-9 < moved["0.2"]


@effect("CEREBRA_MEMORY__WEIGHTS_BOUND")
def _weights_bound(env: Env) -> None:
    fixed = env.brain(CEREBRA_MEMORY__WEIGHTS_BOUND="1", CEREBRA_MEMORY__WEIGHTS_RATE="1",
                      CEREBRA_HOME=str(env.tmp / "fixed"))
    assert _moved(fixed) == 0
    loose = env.brain(CEREBRA_MEMORY__WEIGHTS_BOUND="1.1", CEREBRA_MEMORY__WEIGHTS_RATE="1",
                      CEREBRA_HOME=str(env.tmp / "loose"))
    assert 0 < _moved(loose) <= math.log(1.1) + 1e-9

"""Effect of the knowledge graph's weight in recall (memory group)."""

from __future__ import annotations

from tests.effects.base import Env, effect


@effect("CEREBRA_MEMORY__GRAPH_WEIGHT")
def _graph_weight(env: Env) -> None:
    for weight, used in (("0", False), ("0.5", True)):
        brain = env.brain(CEREBRA_MEMORY__GRAPH_WEIGHT=weight, CEREBRA_HOME=str(env.tmp / weight))
        brain.memory.add("a", "I told Hannah that Quixote won the race in Brighton.")
        brain.memory.add("a", "We saw Quixote at the vet.")
        hits = brain.memory.search("a", "How is Hannah doing?", k=2, explain=True)
        signals = {name for h in hits for name in h.signals}
        assert ("graph_entity" in signals and "graph_hop" in signals) is used, signals

"""Effect check of facts in time (memory.supersession)."""

from __future__ import annotations

import time

from tests.effects.base import Env, effect


@effect("CEREBRA_MEMORY__SUPERSESSION")
def _supersession(env: Env) -> None:
    start = time.time() - 100 * 86400
    for on in ("true", "false"):
        brain = env.brain(CEREBRA_MEMORY__SUPERSESSION=on, CEREBRA_HOME=str(env.tmp / on))
        old = brain.memory.add("a", "I live in Paris", created_at=start)
        new = brain.memory.add("a", "I live in Berlin now", created_at=start + 86400)
        memory = brain.memory.get(old)
        assert memory is not None
        superseded = (memory.validity or {}).get("superseded_by")
        assert superseded == (new if on == "true" else None)
        hits = brain.memory.search("a", "where do I live", k=2, explain=True)
        assert ("facts" in hits[1].signals) == (on == "true")

"""Effect check of write-behind vectors (memory.write_behind)."""

from __future__ import annotations

from cerebra.memory.base import Scope
from tests.effects.base import Env, effect
from tests.helpers import note_flushes


@effect("CEREBRA_MEMORY__WRITE_BEHIND")
def _write_behind(env: Env) -> None:
    for on in ("true", "false"):
        brain = env.brain(CEREBRA_MEMORY__WRITE_BEHIND=on, CEREBRA_HOME=str(env.tmp / on))
        answer = brain.ask("Remember that the heron nests by the mill.", user_id="u")
        stored = [m.uid for m in brain.memory.recent(user_id="u", k=5)]
        assert len(stored) == 1, answer
        backfill = brain.memory.backfill
        if on == "true":  # the vector came from the backfill thread, after the answer
            assert backfill is not None and backfill.flush(timeout=30)
            assert backfill.filled == 1
        else:  # embedded before the answer: nothing was left for a backfill
            assert backfill is None
        vector = brain.memory.embedder.embed(["the heron nests by the mill"])[0]
        found = brain.memory.backend.vector_candidates(Scope(user_id="u"), vector, 5)
        assert stored[0] in {m.uid for m in brain.memory.backend.fetch(
            [c.row_id for c in found])}


@effect("CEREBRA_MEMORY__RECALL_WAIT_S")
def _recall_wait(env: Env) -> None:
    for wait in ("0", "7.5"):
        brain = env.brain(CEREBRA_MEMORY__RECALL_WAIT_S=wait, CEREBRA_HOME=str(env.tmp / wait))
        backfill = brain.memory.backfill
        assert backfill is not None
        waits = note_flushes(backfill)
        brain.ask("Remember that the heron nests by the mill.", user_id="u")
        brain.ask("Where does the heron nest?", user_id="u")
        # a prompt's recall waits for the previous exchange's vector only when told to
        assert waits == ([] if wait == "0" else [7.5, 7.5])
        brain.memory.search("", "heron", user_id="u")  # an API search: read your writes
        assert waits[-1] == 5.0

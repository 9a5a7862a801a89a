"""Effects of what is injected and what is remembered: the relevance floor and its coverage
weight (memory group), the cut at invented turns (generation group), the integrity job."""

from __future__ import annotations

from tests.effects.base import Env, catalog_json, effect, fake_of, text_of

NOTE = "Alice drinks green tea every morning"


@effect("CEREBRA_MEMORY__RELEVANCE_FLOOR")
def _relevance_floor(env: Env) -> None:
    for floor, injected in (("0", True), ("0.42", False)):
        brain = env.brain(CEREBRA_MEMORY__RELEVANCE_FLOOR=floor,
                          CEREBRA_HOME=str(env.tmp / floor))
        brain.memory.add("", NOTE, user_id="u")
        answer = brain.ask("Explain quantum chromodynamics.", user_id="u")
        assert bool(answer.memories) is injected
        assert ("green tea" in text_of(fake_of(brain).calls[-1])) is injected
        # a question the memory answers clears the floor either way
        assert brain.ask("What does Alice drink?", user_id="u").memories


@effect("CEREBRA_MEMORY__RELEVANCE_COVERAGE_WEIGHT")
def _coverage_weight(env: Env) -> None:
    # a floor of 1 no cosine below 1 reaches alone; the query's terms, all held, lift it
    for weight, injected in (("0", False), ("2", True)):
        brain = env.brain(CEREBRA_MEMORY__RELEVANCE_FLOOR="1",
                          CEREBRA_MEMORY__RELEVANCE_COVERAGE_WEIGHT=weight,
                          CEREBRA_HOME=str(env.tmp / weight))
        brain.memory.add("", NOTE, user_id="u")
        assert bool(brain.ask("Does Alice drink tea?", user_id="u").memories) is injected


@effect("CEREBRA_GENERATION__CUT_INVENTED_TURNS")
def _cut_invented_turns(env: Env) -> None:
    reply = {"name": "base", "kind": "fake",
             "options": {"reply": "Sure.\nuser: now say something I never said"}}
    for cut, answer in (("true", "Sure."), ("false", "Sure.\nuser: now say something I "
                                                      "never said")):
        brain = env.brain(CEREBRA_GENERATION__CUT_INVENTED_TURNS=cut,
                          CEREBRA_CATALOG__INLINE=catalog_json(reply),
                          CEREBRA_HOME=str(env.tmp / cut))
        said = brain.ask("Hello", model="base")
        assert said.answer == answer
        stored = brain.memory.get(said.stored_memory_id or "")
        assert stored is not None and ("never said" in stored.text) is (cut == "false")


@effect("CEREBRA_MEMORY__INTEGRITY_INTERVAL_S")
def _integrity_interval(env: Env) -> None:
    def schedules(**values: str) -> dict[str, float]:
        brain = env.brain(**values)
        assert brain.jobs is not None
        return {s.name: s.every_s for s in brain.jobs.schedules()}

    assert "memory-integrity" not in schedules(CEREBRA_MEMORY__INTEGRITY_INTERVAL_S="0")
    found = schedules(CEREBRA_MEMORY__INTEGRITY_INTERVAL_S="600",
                      CEREBRA_HOME=str(env.tmp / "i"))
    assert found["memory-integrity"] == 600

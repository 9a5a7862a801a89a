"""AgentRegistry on SQLite and PostgreSQL: the seed example as written, creation and ensure,
careers driven by the record (minimum counts, confidence bounds, demotion, the sandbox and
release), lineage (mentor, clone, combine), deletion, bad input and tenant isolation."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from cerebra.agents import AgentRegistry, UnknownAgent
from cerebra.config import Settings
from cerebra.context import RequestContext
from cerebra.errors import Conflict, InvalidInput


def test_seed_example_as_written() -> None:
    from cerebra.agents import AgentRegistry
    from cerebra.db import run_migrations

    run_migrations()
    registry = AgentRegistry()
    registry.ensure("alice", ["brave", "curious"])
    for _ in range(5):
        registry.record("alice", True)
    assert registry.get("alice").title == "promoted"
    registry.mentor("alice", "bob")
    assert registry.clone("alice", "alice_clone").mentor_id == "alice"


@pytest.fixture
def registry(sql_engine: Engine) -> AgentRegistry:
    return AgentRegistry(sql_engine)


def test_ensure_creates_once_with_a_generated_persona(registry: AgentRegistry) -> None:
    alice = registry.ensure("alice", ["Brave", "curious", "brave"])
    assert alice.traits == ("brave", "curious")
    assert alice.title == "novice" and alice.n == 0 and not alice.sandboxed
    assert "alice" in alice.system_prompt and "commit to an answer" in alice.system_prompt
    assert (alice.mood, alice.tone) == ("confident", "direct")
    assert alice.memory_scope == "alice"
    again = registry.ensure("alice", ["formal"])  # the existing one, unchanged
    assert again.traits == ("brave", "curious") and again.created_at == alice.created_at
    with pytest.raises(Conflict):
        registry.create("alice", ["formal"])
    assert [a.id for a in registry.list()] == ["alice"]
    history = registry.history("alice")
    assert [(h.from_title, h.to_title, h.reason) for h in history] == [
        (None, "novice", "created")]


def test_promotion_needs_the_minimum_number_of_results(registry: AgentRegistry) -> None:
    registry.ensure("alice")
    for _ in range(4):  # 4 of 4: lower bound 0.51 >= 0.5, but fewer than 5 results
        agent = registry.record("alice", True)
    assert agent.title == "novice" and agent.n == 4 and agent.lower_bound > 0.5
    agent = registry.record("alice", True)
    assert agent.title == "promoted"
    change = registry.history("alice")[-1]
    assert (change.from_title, change.to_title) == ("novice", "promoted")
    assert "5 results" in change.reason and "lower bound" in change.reason


def test_a_raw_average_is_not_enough(registry: AgentRegistry) -> None:
    registry.ensure("carol")
    for outcome in (True, True, True, True, False):  # mean 0.8, lower bound 0.38
        agent = registry.record("carol", outcome)
    assert agent.mean_score == pytest.approx(0.8)
    assert agent.lower_bound < 0.5 and agent.title == "novice"


def test_expert_after_enough_strong_results(registry: AgentRegistry) -> None:
    registry.ensure("erin")
    titles = [registry.record("erin", 0.95, reason=f"task {i}").title for i in range(20)]
    assert titles[4] == "promoted" and titles[18] == "promoted" and titles[19] == "expert"
    assert [h.to_title for h in registry.history("erin")] == ["novice", "promoted", "expert"]
    assert registry.history("erin")[-1].reason.endswith("(task 19)")
    # one bad result does not undo the career: the upper bound is still high
    assert registry.record("erin", False).title == "expert"


def test_thresholds_come_from_settings(sql_engine: Engine) -> None:
    settings = Settings(agents={"promote_min_results": 2, "promote_lower_bound": 0.3})
    registry = AgentRegistry(sql_engine, settings=settings)
    registry.ensure("dan")
    registry.record("dan", True)
    assert registry.record("dan", True).title == "promoted"


def test_underperformers_are_demoted_then_sandboxed(registry: AgentRegistry) -> None:
    registry.ensure("bob")
    titles = [registry.record("bob", False, reason="lost").title for _ in range(10)]
    assert titles[3] == "novice"  # 4 results: below the minimum of 5
    assert titles[4] == "demoted"  # 0 of 5: upper bound 0.43 < 0.5
    assert titles[8] == "demoted"  # 0 of 9: upper bound 0.30, not yet below 0.3
    assert titles[9] == "sandboxed"  # 0 of 10: upper bound 0.28 < 0.3
    bob = registry.get("bob")
    assert bob.sandboxed and bob.upper_bound < 0.3
    assert [h.to_title for h in registry.history("bob")] == ["novice", "demoted", "sandboxed"]
    assert registry.list(title="sandboxed")[0].id == "bob"
    # results (from competitions) can earn the way out: a promotion leaves the sandbox
    for _ in range(30):
        bob = registry.record("bob", True)
        if not bob.sandboxed:
            break
    assert bob.title == "promoted" and not bob.sandboxed


def test_sandbox_and_release_by_hand(registry: AgentRegistry) -> None:
    registry.ensure("alice")
    for _ in range(5):
        registry.record("alice", True)
    agent = registry.sandbox("alice", "judged unsafe")
    assert agent.sandboxed and agent.title == "sandboxed"
    assert registry.history("alice")[-1].reason == "judged unsafe"
    agent = registry.release("alice", "reviewed")
    assert not agent.sandboxed and agent.title == "promoted"  # the title it had before


def test_outcomes_are_checked(registry: AgentRegistry) -> None:
    registry.ensure("alice")
    for bad in (1.5, -0.1, "yes", None):
        with pytest.raises(InvalidInput) as info:
            registry.record("alice", bad)  # type: ignore[arg-type]
        assert info.value.field == "outcome"
    assert registry.get("alice").n == 0
    with pytest.raises(UnknownAgent):
        registry.record("nobody", True)


def test_ids_and_traits_are_checked(registry: AgentRegistry) -> None:
    for bad in ("", "-x", "a b", "x" * 65, "é", "abc\n"):
        with pytest.raises(InvalidInput):
            registry.ensure(bad)
    with pytest.raises(InvalidInput) as info:
        registry.ensure("alice", ["ok", "no;way"])
    assert info.value.field == "traits[1]"
    with pytest.raises(InvalidInput):
        registry.ensure("alice", "brave")  # one string, not a list
    for field, value in (("template", "no spaces here"), ("preferred_models", ["a b"]),
                         ("memory_scope", "-x")):
        with pytest.raises(InvalidInput) as info:
            registry.ensure("alice", **{field: value})
        assert info.value.field == field
    assert registry.list() == []


def test_a_reason_with_a_nul_is_kept_without_it(registry: AgentRegistry) -> None:
    registry.ensure("alice")
    registry.sandbox("alice", "bad\x00 output")
    assert registry.history("alice")[-1].reason == "bad output"


def test_mentor_creates_the_mentee_and_refuses_loops(registry: AgentRegistry) -> None:
    registry.ensure("alice", ["brave", "curious"], preferred_models=["m1"])
    bob = registry.mentor("alice", "bob")
    assert bob.mentor_id == "alice" and bob.traits == ("brave", "curious")
    assert bob.preferred_models == ("m1",) and "bob" in bob.system_prompt
    registry.ensure("carol", ["formal"])
    assert registry.mentor("bob", "carol").mentor_id == "bob"
    assert registry.get("carol").traits == ("formal",)  # an existing mentee keeps its own
    with pytest.raises(Conflict):
        registry.mentor("carol", "alice")  # alice -> bob -> carol -> alice
    with pytest.raises(Conflict):
        registry.mentor("alice", "alice")
    with pytest.raises(UnknownAgent):
        registry.mentor("nobody", "alice")


def test_clone_inherits_the_persona_not_the_record(registry: AgentRegistry) -> None:
    registry.ensure("alice", ["brave"], preferred_models=["m1"], template="short")
    for _ in range(5):
        registry.record("alice", True)
    clone = registry.clone("alice", "alice_clone")
    alice = registry.get("alice")
    assert clone.mentor_id == "alice"
    assert clone.system_prompt == alice.system_prompt  # inherited word for word
    assert (clone.traits, clone.mood, clone.tone) == (alice.traits, alice.mood, alice.tone)
    assert clone.preferred_models == ("m1",) and clone.template == "short"
    assert clone.title == "novice" and clone.n == 0 and clone.memory_scope == "alice_clone"
    assert registry.history("alice_clone")[0].reason == "cloned from alice"
    with pytest.raises(Conflict):
        registry.clone("alice", "alice")
    with pytest.raises(UnknownAgent):
        registry.clone("nobody", "x")


def test_combine_merges_traits(registry: AgentRegistry) -> None:
    registry.ensure("alice", ["brave", "curious"], preferred_models=["m1"])
    registry.ensure("bob", ["cautious", "curious", "formal"], preferred_models=["m2", "m1"])
    child = registry.combine("alice", "bob", "carol")
    assert child.traits == ("brave", "cautious", "curious", "formal")
    assert child.parents == ("alice", "bob") and child.mentor_id is None
    assert child.preferred_models == ("m1", "m2")
    assert "carol" in child.system_prompt and "sure of" in child.system_prompt
    with pytest.raises(UnknownAgent):
        registry.combine("alice", "nobody", "x")


def test_delete(registry: AgentRegistry) -> None:
    registry.ensure("alice")
    registry.delete("alice")
    assert not registry.exists("alice")
    with pytest.raises(UnknownAgent):
        registry.history("alice")
    with pytest.raises(UnknownAgent):
        registry.delete("alice")
    assert registry.ensure("alice").n == 0  # the id can be used again, history fresh
    assert len(registry.history("alice")) == 1


def test_tenants_do_not_see_each_other(sql_engine: Engine) -> None:
    ours = AgentRegistry(sql_engine, context=RequestContext(tenant_id="t1"))
    theirs = AgentRegistry(sql_engine, context=RequestContext(tenant_id="t2"))
    ours.ensure("alice", ["brave"])
    for _ in range(5):
        ours.record("alice", True)
    assert theirs.list() == [] and not theirs.exists("alice")
    for call in (lambda: theirs.get("alice"), lambda: theirs.record("alice", True),
                 lambda: theirs.history("alice"), lambda: theirs.clone("alice", "a2"),
                 lambda: theirs.mentor("alice", "b"), lambda: theirs.delete("alice"),
                 lambda: theirs.sandbox("alice", "x")):
        with pytest.raises(UnknownAgent):
            call()
    mine = theirs.ensure("alice", ["formal"])  # the same id is another agent there
    assert mine.traits == ("formal",) and mine.title == "novice"
    assert ours.get("alice").title == "promoted" and ours.get("alice").n == 5


def test_concurrent_results_are_all_counted(sql_engine: Engine) -> None:
    from concurrent.futures import ThreadPoolExecutor

    registry = AgentRegistry(sql_engine)
    registry.ensure("alice")

    def five(_: int) -> None:
        for _ in range(5):
            registry.record("alice", 0.5)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(five, range(8)))
    alice = registry.get("alice")
    assert alice.n == 40 and alice.score_sum == pytest.approx(20.0)
    assert alice.successes == 40 and alice.score_sq == pytest.approx(10.0)
    # every title change was logged once: none, since 0.5 sits between the bounds
    assert [h.to_title for h in registry.history("alice")] == ["novice"]

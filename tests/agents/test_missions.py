"""MetaAgentScheduler: a mission's prompts answered by its agents (through the registry's ask
path and Brain, sandboxed agents included), scored by a checker, stored, and fed back into
the agents' careers; once a day; scheduled on the job runner; folder and stored missions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from cerebra.agents import AgentRegistry, AgentSandboxed
from cerebra.agents.mission_spec import Mission, load_folder
from cerebra.agents.mission_store import UnknownMission, UnknownRun
from cerebra.agents.missions import MetaAgentScheduler
from cerebra.brain import Brain
from cerebra.config import Settings
from cerebra.context import RequestContext
from cerebra.errors import InvalidInput
from cerebra.jobs import InProcessRunner
from cerebra.testing import FakeEmbedder, FakeModel

CAPITALS = {
    "name": "capitals",
    "description": "the capital of France, ten times",
    "prompts": [{"prompt": f"({i}) What is the capital of France? One word.",
                 "check": {"kind": "normalized", "expected": "paris", "contains": True}}
                for i in range(10)],
}


@pytest.fixture
def brain(tmp_path: Path) -> Iterator[Brain]:
    settings = Settings(home=tmp_path / "h", model={"fake": True}, memory={"embedder": "fake"})
    b = Brain.from_settings(settings, model=FakeModel("Paris.", name="wise"),
                            embedder=FakeEmbedder())
    b.models.add(FakeModel("I think it is London.", name="dull"))
    yield b
    b.close()


@pytest.fixture
def registry(brain: Brain) -> AgentRegistry:
    registry = AgentRegistry(brain.engine, settings=brain.settings)
    registry.ensure("ada", ["curious"], preferred_models=["wise"])
    registry.ensure("bo", ["brave"], preferred_models=["dull"])
    return registry


class Clock:
    def __init__(self, day: str) -> None:
        self.now = dt.datetime.fromisoformat(f"{day}T09:00:00+00:00").timestamp()

    def __call__(self) -> float:
        return self.now


def _scheduler(registry: AgentRegistry, brain: Brain, tmp_path: Path,
               **options: object) -> MetaAgentScheduler:
    return MetaAgentScheduler(registry, brain=brain, folder=tmp_path / "missions",
                              **options)  # type: ignore[arg-type]


def test_a_mission_promotes_the_agent_that_passes_and_sandboxes_the_one_that_fails(
        registry: AgentRegistry, brain: Brain, tmp_path: Path) -> None:
    scheduler = _scheduler(registry, brain, tmp_path)
    scheduler.add(CAPITALS)
    run = scheduler.run("capitals")
    assert run.state == "done" and run.trigger == "manual"
    assert registry.get("ada").title == "promoted"
    assert registry.get("bo").title == "sandboxed" and registry.get("bo").sandboxed
    assert run.summary["agents"]["ada"]["passed"] == 10
    assert run.summary["agents"]["bo"]["passed"] == 0
    assert run.summary["agents"]["bo"]["title"] == "sandboxed"
    # the reasons name the mission
    why = registry.history("bo")[-1].reason
    assert "mission capitals" in why and "expected 'paris'" in why
    # outcomes persisted, one per agent and prompt, with the model that answered
    stored, outcomes = scheduler.store.run(run.id)
    assert stored.state == "done" and len(outcomes) == 20
    ada = [o for o in outcomes if o.agent_id == "ada"]
    assert all(o.passed and o.score == 1.0 and o.model == "wise" and o.trace_id for o in ada)
    assert {o.answer for o in outcomes if o.agent_id == "bo"} == {"I think it is London."}
    # the sandboxed agent still runs in missions (a competition): it is how it earns its way
    # back; for users it stays refused
    with pytest.raises(AgentSandboxed):
        registry.ask("bo", "What is the capital of France?", brain=brain)
    again = scheduler.run("capitals")
    assert again.summary["agents"]["bo"]["prompts"] == 10
    assert [r.id for r in scheduler.store.runs()] == [again.id, run.id]


def test_errors_and_latency_are_failures_with_their_reason(
        registry: AgentRegistry, brain: Brain, tmp_path: Path) -> None:
    brain.models.add(FakeModel("Paris", name="slowpoke", delay_s=0.01))  # >= 10 ms
    registry.ensure("cy", preferred_models=["slowpoke"])
    scheduler = _scheduler(registry, brain, tmp_path)
    spec = {**CAPITALS, "name": "quick", "agents": ["cy"], "max_latency_ms": 5}
    scheduler.add(spec)
    run = scheduler.run("quick")
    _, outcomes = scheduler.store.run(run.id)
    assert {o.agent_id for o in outcomes} == {"cy"}  # only the mission's agents
    assert all(not o.passed and o.reason.startswith("too slow") for o in outcomes)
    # a prompt too long for the model is an error of the run, scored 0 with it
    brain.models.add(FakeModel("Paris", name="tiny", max_context=3))
    registry.ensure("dee", preferred_models=["tiny"])
    scheduler.add({**CAPITALS, "name": "tiny", "agents": ["dee"]})
    tiny = scheduler.run("tiny")
    _, bad = scheduler.store.run(tiny.id)
    assert bad[0].error and bad[0].reason.startswith("error:") and bad[0].score == 0.0
    assert tiny.summary["agents"]["dee"]["errors"] == 10


def test_perform_daily_runs_each_mission_once_a_day(
        registry: AgentRegistry, brain: Brain, tmp_path: Path) -> None:
    clock = Clock("2026-11-30")
    scheduler = _scheduler(registry, brain, tmp_path, clock=clock)
    scheduler.add(CAPITALS)
    scheduler.add({**CAPITALS, "name": "ondemand", "daily": False})
    first = scheduler.perform_daily()
    assert [(r.mission, r.day, r.trigger) for r in first] == [
        ("capitals", "2026-11-30", "daily")]
    assert scheduler.perform_daily() == []  # the same day: nothing reruns
    # another scheduler (another process) sees the day taken too
    assert _scheduler(registry, brain, tmp_path, clock=clock).perform_daily() == []
    assert registry.get("ada").n == 10
    clock.now += 86_400
    assert [r.day for r in scheduler.perform_daily()] == ["2026-12-01"]
    assert registry.get("ada").n == 20


def test_start_schedules_perform_daily_on_the_job_runner(
        registry: AgentRegistry, brain: Brain, tmp_path: Path) -> None:
    wall, tick = Clock("2026-11-30"), [0.0]
    runner = InProcessRunner(brain.engine, clock=lambda: tick[0], scheduler=False)
    try:
        scheduler = _scheduler(registry, brain, tmp_path, clock=wall, runner=runner,
                               interval_s=3600)
        scheduler.add(CAPITALS)
        scheduler.start()
        assert runner.run_due() == ["missions:default"]  # at once
        assert registry.get("ada").n == 10
        tick[0] += 3600
        assert runner.run_due() == ["missions:default"]  # an hour later: the same day
        assert registry.get("ada").n == 10
        info = {s.name: s for s in runner.schedules()}["missions:default"]
        assert info.runs == 2 and info.last_result == {"runs": [], "missions": []}
        wall.now += 86_400
        tick[0] += 3600
        runner.run_due()
        assert registry.get("ada").n == 20
        scheduler.stop()
        assert runner.schedules() == []
    finally:
        runner.close()


def test_the_seed_example(registry: AgentRegistry, brain: Brain, tmp_path: Path,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CEREBRA_HOME", str(tmp_path / "seed"))
    from cerebra.config import get_settings

    get_settings.cache_clear()
    scheduler = MetaAgentScheduler(registry)
    scheduler.perform_daily()
    scheduler.start()
    try:
        assert "missions:default" in [s.name for s in scheduler._own_runner.schedules()]  # type: ignore[union-attr]
    finally:
        scheduler.close()
    get_settings.cache_clear()


def test_missions_from_a_folder_and_the_database(
        registry: AgentRegistry, brain: Brain, tmp_path: Path) -> None:
    folder = tmp_path / "missions"
    folder.mkdir()
    (folder / "maths.yaml").write_text(
        "prompts:\n  - prompt: What is 2 + 2?\n    check: {kind: numeric, expected: 4}\n")
    scheduler = _scheduler(registry, brain, tmp_path)
    assert list(scheduler.missions()) == ["maths"]
    assert scheduler.mission("maths").source.endswith("maths.yaml")
    scheduler.add({**CAPITALS, "name": "maths"})  # a stored one wins over the file
    assert len(scheduler.mission("maths").prompts) == 10
    with pytest.raises(UnknownMission):
        scheduler.run("nope")
    with pytest.raises(UnknownRun):
        scheduler.store.run("nope")
    (folder / "broken.yaml").write_text("prompts: [{prompt: hi}]\n")
    (folder / "garbled.yml").write_text("prompts: [unclosed\n")
    assert list(scheduler.missions()) == ["maths"]  # the broken files are skipped, reported
    assert scheduler.problems[0].startswith("broken.yaml: prompts[0] has no check")
    assert scheduler.problems[1].startswith("garbled.yml: not a readable YAML file")
    with pytest.raises(InvalidInput, match=r"broken.yaml: prompts\[0\] has no check"):
        load_folder(folder)


@pytest.mark.parametrize("spec, field", [
    ({"name": "x", "prompts": []}, "prompts"),
    ({"name": "bad name", "prompts": ["hi"]}, "name"),
    ({"name": "x", "prompts": [{"prompt": "hi", "check": {"kind": "magic"}}]}, "check.kind"),
    ({"name": "x", "prompts": [{"prompt": "hi", "check": {"kind": "regex",
                                                          "expected": "("}}]}, "pattern"),
    ({"name": "x", "prompts": ["hi"], "judge": "m", "pass_score": 2}, "pass_score"),
    ({"name": "x", "prompts": ["hi"], "judge": "m", "colour": "red"}, "colour"),
])
def test_bad_missions_are_refused_naming_the_field(spec: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Mission.from_spec(spec)
    assert caught.value.field == field


def test_another_tenants_missions_and_runs_are_unknown(
        registry: AgentRegistry, brain: Brain, tmp_path: Path) -> None:
    scheduler = _scheduler(registry, brain, tmp_path)
    scheduler.add(CAPITALS)
    run = scheduler.run("capitals")
    other = AgentRegistry(brain.engine, settings=brain.settings,
                          context=RequestContext(tenant_id="other"))
    theirs = _scheduler(other, brain, tmp_path)
    assert theirs.missions() == {} and theirs.store.runs() == []
    with pytest.raises(UnknownMission):
        theirs.run("capitals")
    with pytest.raises(UnknownRun):
        theirs.store.run(run.id)
    assert theirs.perform_daily() == []


def test_prompts_without_a_check_are_judged_by_the_missions_judge(
        registry: AgentRegistry, brain: Brain, tmp_path: Path) -> None:
    from cerebra.judging import Check, CheckerJudge, Verdict

    seen: list[dict[str, str]] = []

    class Judge:
        name = "house"

        def judge(self, prompt: str, answers: dict[str, str]) -> Verdict:
            seen.append(dict(answers))
            return CheckerJudge(Check.regex("paris"), name=self.name).judge(prompt, answers)

    scheduler = _scheduler(registry, brain, tmp_path, judges={"house": Judge()})
    scheduler.add({"name": "essay", "judge": "house",
                   "prompts": ["Write about France."] * 5})
    run = scheduler.run("essay")
    assert seen[0] == {"ada": "Paris.", "bo": "I think it is London."}  # judged together
    assert run.summary["agents"]["ada"]["passed"] == 5
    assert run.summary["agents"]["bo"]["passed"] == 0
    assert registry.get("ada").title == "promoted"

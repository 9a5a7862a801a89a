"""MetaAgentScheduler: daily missions for a tenant's agents — each mission's prompts answered
by its agents, scored by a checker (or a judge model), the outcomes stored and fed back into
the agents' records and titles.

```python
scheduler = MetaAgentScheduler(registry)   # missions: the folder's YAML and the stored ones
scheduler.perform_daily()                  # today's missions, once a day
scheduler.start()                          # …and again on the job runner, until stop()
```

Who runs: a mission's `agents`, or every agent of the tenant when it names none — sandboxed
agents included. Missions are competitions: a sandboxed agent answers in them (never for
users), and missions are how it earns its way back (a promotion takes it out of the sandbox).

How it is scored: each prompt's answers are judged together — by the prompt's check (the
checker judge: deterministic) or by the mission's judge model (ModelJudge through Brain).
Logs and model metrics count too: an answer that raised (a model error, a refusal) scores 0
with the error as its reason, and with `max_latency_ms` a slower answer fails ("too slow").
Each (agent, prompt) result is one `registry.record(agent, score, reason="mission …")`, so a
mission of ten prompts is ten results towards a career (careers.next_title decides the
title on a confidence bound). Every outcome is stored (MissionStore) with the answer,
score, reason, model, latency and trace id.

Once a day: `perform_daily()` claims the day (by `clock`, UTC) for each daily mission in the
database before running it; a second call the same day — here or in another process — runs
nothing. `start()` schedules `perform_daily` on the job runner every `interval_s` (hourly by
default: the first call of a new day runs it), no thread of its own.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cerebra.agents.mission_spec import Mission, load_folder
from cerebra.agents.mission_store import MissionStore, Outcome, Run, UnknownMission
from cerebra.errors import CerebraError
from cerebra.jobs.scheduled import ScheduledJob
from cerebra.judging.checker import CheckerJudge

if TYPE_CHECKING:
    from cerebra.agents.registry import AgentRegistry
    from cerebra.brain import Brain
    from cerebra.jobs.base import JobContext, JobRunner
    from cerebra.judging.base import JudgeProtocol

log = logging.getLogger("cerebra.agents.missions")


def utc_day(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).date().isoformat()


class MetaAgentScheduler:
    """Runs a tenant's (the registry's) missions; see the module docstring.

    `brain` answers as the agents (built from settings on first need, and closed by
    `close()`, when not given); `folder` holds mission YAML files (default: the home's
    `missions/`); `runner` is the job runner `start()` schedules on (an own in-process one
    when not given); `clock` gives epoch seconds (the day of a daily run);
    `judges` maps a mission's `judge` name to a judge (default: a ModelJudge of that model).
    """

    def __init__(
        self,
        registry: AgentRegistry,
        *,
        brain: Brain | None = None,
        folder: Path | str | None = None,
        runner: JobRunner | None = None,
        clock: Callable[[], float] = time.time,
        interval_s: float = 3600.0,
        judges: Mapping[str, JudgeProtocol] | None = None,
    ) -> None:
        self.registry = registry
        self.store = MissionStore(registry.engine, registry.tenant_id)
        if folder is None:
            from cerebra.config import get_settings

            folder = get_settings().home / "missions"
        self.folder = Path(folder)
        self.clock, self.interval_s = clock, interval_s
        self.judges = dict(judges or {})
        self._brain, self._own_brain = brain, False
        self.name = f"missions:{registry.tenant_id}"
        self._job = ScheduledJob(runner, self._private_runner)
        self.problems: list[str] = []  # the folder's files skipped by the last missions()

    # -- missions ---------------------------------------------------------------------------
    def missions(self) -> dict[str, Mission]:
        """The tenant's missions by name: the folder's, and the stored ones (which win). A
        folder file that does not parse is logged, listed in `problems` and skipped."""
        problems: list[str] = []
        found = load_folder(self.folder, problems)
        for problem in problems:
            log.warning("mission file skipped: %s", problem)
        self.problems = problems
        return {**found, **self.store.stored()}

    def mission(self, name: str) -> Mission:
        found = self.missions().get(name)
        if found is None:
            raise UnknownMission(f"unknown mission {name!r}", field="name")
        return found

    def add(self, spec: Mapping[str, Any], *, replace: bool = False) -> Mission:
        """Store a mission template (a mapping as in a YAML file, with its name)."""
        return self.store.save(Mission.from_spec(spec), replace=replace)

    @property
    def brain(self) -> Brain:
        if self._brain is None:
            from cerebra.brain import Brain

            self._brain, self._own_brain = Brain.from_settings(), True
        return self._brain

    # -- running ----------------------------------------------------------------------------
    def perform_daily(self) -> list[Run]:
        """Run today's daily missions that have not run today; the runs made (none on a
        second call the same day)."""
        day, done = utc_day(self.clock()), []
        for mission in self.missions().values():
            if not mission.daily:
                continue
            run_id = self.store.claim(mission.name, "daily", day)
            if run_id is not None:
                done.append(self._execute(mission, run_id, "daily", day))
        return done

    def run(self, name: str) -> Run:
        """Run one mission now (whatever the day), its run."""
        mission = self.mission(name)
        run_id = self.store.claim(mission.name, "manual", None)
        assert run_id is not None  # only daily runs can be taken
        return self._execute(mission, run_id, "manual", None)

    def _execute(self, mission: Mission, run_id: str, trigger: str, day: str | None) -> Run:
        started = time.time()
        try:
            outcomes, summary = self._play(mission, run_id)
        except Exception as exc:  # stored as a failed run; the next day runs again
            log.exception("mission %s failed", mission.name)
            summary = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
            self.store.finish(run_id, [], summary, state="failed")
            return Run(run_id, mission.name, trigger, day, "failed", summary, started,
                       time.time())
        self.store.finish(run_id, outcomes, summary)
        return Run(run_id, mission.name, trigger, day, "done", summary, started, time.time())

    def _agents(self, mission: Mission) -> list[str]:
        if mission.agents:
            for agent_id in mission.agents:
                self.registry.get(agent_id)  # an unknown one fails the run, named
            return list(mission.agents)
        return [a.id for a in self.registry.list()]

    def _play(self, mission: Mission, run_id: str) -> tuple[list[Outcome], dict[str, Any]]:
        agent_ids = self._agents(mission)
        outcomes: list[Outcome] = []
        for index, item in enumerate(mission.prompts):
            answered = {a: self._answer(mission, a, item.prompt) for a in agent_ids}
            if not answered:
                break
            texts = {a: o.answer for a, o in answered.items() if not o.error}
            verdict = None
            if texts:
                judge = (CheckerJudge(item.check) if item.check is not None
                         else self._judge(mission))
                verdict = judge.judge(item.prompt, texts)
            outcomes.extend(self._score(mission, index, o, verdict)
                            for o in answered.values())
        for o in outcomes:  # the careers, after every answer is in
            self.registry.record(o.agent_id, o.score, reason=(
                f"mission {mission.name}, run {run_id[:8]}, prompt {o.prompt_index + 1}: "
                f"{o.reason}"[:500]))
        return outcomes, _summary(mission, agent_ids, outcomes, self.registry)

    def _answer(self, mission: Mission, agent_id: str, prompt: str) -> Outcome:
        try:
            answer = self.registry.ask(
                agent_id, prompt, brain=self.brain, competition=True, memory=False,
                max_tokens=mission.max_tokens, temperature=mission.temperature,
                endpoint="missions")
        except CerebraError as exc:  # a model failure, a refusal: the run's log says why
            return Outcome(agent_id, 0, "", 0.0, False, "", error=exc.message[:1000])
        return Outcome(agent_id, 0, answer.answer, 0.0, False, "", model=answer.model,
                       latency_ms=answer.latency_ms, trace_id=answer.trace_id)

    def _score(self, mission: Mission, index: int, o: Outcome, verdict: Any) -> Outcome:
        if o.error:
            score, reason = 0.0, f"error: {o.error}"
        elif mission.max_latency_ms is not None and o.latency_ms > mission.max_latency_ms:
            score = 0.0
            reason = f"too slow: {o.latency_ms:.0f} ms > {mission.max_latency_ms:.0f} ms"
        else:
            score = float(verdict.scores.get(o.agent_id, 0.0))
            reason = _reason_of(verdict, o.agent_id)
        return Outcome(o.agent_id, index, o.answer, score, score >= mission.pass_score,
                       reason[:2000], o.model, o.latency_ms, o.error, o.trace_id)

    def _judge(self, mission: Mission) -> JudgeProtocol:
        assert mission.judge is not None  # a prompt without a check needs one (the spec)
        if mission.judge in self.judges:
            return self.judges[mission.judge]
        from cerebra.judging.model_judge import ModelJudge

        return ModelJudge(mission.judge, brain=self.brain, context=self.registry.context)

    # -- scheduling -------------------------------------------------------------------------
    def _daily_job(self, ctx: JobContext) -> dict[str, Any]:
        runs = self.perform_daily()
        return {"runs": [r.id for r in runs], "missions": [r.mission for r in runs]}

    def start(self) -> None:
        """Run `perform_daily` now and every `interval_s` on the job runner until `stop()`."""
        self._job.start(self.name, self._daily_job, self.interval_s)

    def stop(self, timeout_s: float = 10.0) -> None:
        self._job.stop(timeout_s)

    @property
    def _own_runner(self) -> JobRunner | None:
        """The runner start() made when it was given none (None otherwise)."""
        return self._job.own_runner

    def _private_runner(self) -> JobRunner:
        from cerebra.jobs.inprocess import InProcessRunner

        return InProcessRunner(self.registry.engine, workers=1, periodic_workers=1)

    def close(self) -> None:
        self.stop()
        if self._own_brain and self._brain is not None:
            self._brain.close()
            self._brain, self._own_brain = None, False


def _reason_of(verdict: Any, agent_id: str) -> str:
    """The agent's part of the verdict's rationale ("id: score (why)"), else all of it."""
    for part in str(verdict.rationale).split("; "):
        if part.startswith(f"{agent_id}: "):
            mine = part[len(agent_id) + 2:]
            scored = re.fullmatch(r"[-+\d.e]+ \((.*)\)", mine, re.DOTALL)  # "1 (why)"
            return scored.group(1) if scored else mine
    return str(verdict.rationale) or f"score {verdict.scores.get(agent_id, 0.0):g}"


def _summary(mission: Mission, agent_ids: list[str], outcomes: list[Outcome],
             registry: AgentRegistry) -> dict[str, Any]:
    """Per agent: prompts passed, mean score, errors, mean latency, and its title after."""
    per: dict[str, Any] = {}
    for agent_id in agent_ids:
        mine = [o for o in outcomes if o.agent_id == agent_id]
        timed = [o.latency_ms for o in mine if not o.error]
        per[agent_id] = {
            "passed": sum(o.passed for o in mine), "prompts": len(mine),
            "mean_score": round(sum(o.score for o in mine) / len(mine), 6) if mine else 0.0,
            "errors": sum(bool(o.error) for o in mine),
            "mean_latency_ms": round(sum(timed) / len(timed), 3) if timed else None,
            "title": registry.get(agent_id).title,
        }
    return {"mission": mission.name, "prompts": len(mission.prompts), "agents": per}

"""Missions and teams over HTTP: /api/missions (list, create a template, show, run now, runs
and their outcomes) and /api/teams (list, create a venture, show with roles, assignments
and KPIs, record a KPI). Everything is the caller's tenant's; another tenant's mission,
run or venture is not found (404). Logic lives in cerebra.agents.missions and
cerebra.agents.teams.

Mission checks over HTTP are the declarative kinds (exact, normalized, regex, numeric);
json_schema and `function` checks (Python source) are for mission files an operator places
in the missions folder.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from cerebra.agents import AgentRegistry
from cerebra.agents.mission_spec import NAME_PATTERN
from cerebra.agents.missions import MetaAgentScheduler
from cerebra.agents.persona import TRAIT_PATTERN
from cerebra.agents.registry import ID_PATTERN, MODEL_PATTERN
from cerebra.agents.teams import NAME_PATTERN as TEAM_PATTERN
from cerebra.agents.teams import BusinessFactory
from cerebra.auth.principal import Scope
from cerebra.brain import Brain
from cerebra.context import RequestContext
from cerebra.governance.audit_setup import record_action
from cerebra.server.auth import requires
from cerebra.server.deps import get_brain
from cerebra.server.openapi_doc import error_response
from cerebra.server.request_schemas import WHOLE

router = APIRouter(prefix="/api", tags=["missions"])

MissionName = Annotated[str, Field(pattern=NAME_PATTERN, description="1-64 letters, digits, _ . -")]
AgentId = Annotated[str, Field(pattern=ID_PATTERN)]
TeamName = Annotated[str, Field(pattern=TEAM_PATTERN, description="1-28 letters, digits, _ -")]
_Responses = dict[int | str, dict[str, Any]]
_MISSION_404: _Responses = {404: error_response(404, "the tenant has no mission by this name")}
_RUN_404: _Responses = {404: error_response(404, "no such mission, or no such run of it")}
_TEAM_404: _Responses = {
    404: error_response(404, "the caller's tenant has no venture (or role) by this name")}
_CONFLICT: _Responses = {409: error_response(409, "one by this name exists already")}


class TextCheckIn(BaseModel):
    """The answer equals `expected` (exact: trimmed; normalized: case, spacing and edge
    punctuation aside), or holds it as whole words with `contains`."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["exact", "normalized"]
    expected: str = Field(min_length=1, max_length=4000)
    contains: bool = Field(default=False, strict=True)


class RegexCheckIn(BaseModel):
    """The answer matches the (Python) regular expression `expected`, case-insensitively;
    one that does not compile is refused (422)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["regex"]
    expected: str = Field(min_length=1, max_length=500, json_schema_extra={"format": "regex"})


class NumericCheckIn(BaseModel):
    """The answer's last number is within tolerance of `expected`."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["numeric"]
    expected: float = Field(strict=True, ge=-1e15, le=1e15)
    abs_tol: float = Field(default=1e-6, strict=True, ge=0, le=1e12)
    rel_tol: float = Field(default=0.0, strict=True, ge=0, le=1e12)


CheckIn = Annotated[TextCheckIn | RegexCheckIn | NumericCheckIn, Field(discriminator="kind")]


class PromptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=4000, pattern=r"\S")
    check: CheckIn | None = Field(default=None, description="none: the mission's judge decides")


def _check_or_judge(schema: dict[str, Any]) -> None:
    """A mission names a judge, or every prompt has a check."""
    schema["anyOf"] = [
        {"required": ["judge"], "properties": {"judge": {"type": "string"}}},
        {"properties": {"prompts": {"items": {
            "required": ["check"], "properties": {"check": {"type": "object"}}}}}},
    ]


class MissionIn(BaseModel):
    """A mission template; a prompt without a check needs the mission's `judge`."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_check_or_judge)

    name: MissionName
    description: str = Field(default="", max_length=500)
    prompts: list[PromptIn] = Field(min_length=1, max_length=100)
    agents: list[AgentId] = Field(default_factory=list, max_length=100,
                                  description="empty: every agent of the tenant")
    pass_score: float = Field(default=0.5, strict=True, ge=0, le=1)
    max_tokens: Annotated[int, Field(ge=1, le=4096, strict=True), WHOLE] = 64
    temperature: float = Field(default=0.0, strict=True, ge=0, le=2)
    max_latency_ms: float | None = Field(default=None, strict=True, ge=1, le=3_600_000)
    judge: str | None = Field(default=None, pattern=MODEL_PATTERN,
                              description="the model judging prompts without a check")
    daily: bool = Field(default=True, strict=True, description="run by the daily schedule")
    replace: bool = Field(default=False, strict=True,
                          description="replace a stored mission of this name")


class RoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kpi: TeamName = "kpi"
    target: float = Field(default=0.5, strict=True, ge=-1e12, le=1e12)
    window: Annotated[int, Field(ge=1, le=1000, strict=True), WHOLE] = 5
    traits: list[Annotated[str, Field(pattern=TRAIT_PATTERN)]] = Field(
        default_factory=list, max_length=16, description="empty: the role's own")
    agent_id: AgentId | None = Field(default=None, description="none: a new agent")


def _closed_roles(schema: dict[str, Any]) -> None:
    """Role names are the roles object's keys, each matching the name pattern, no other."""
    schema["properties"]["roles"]["additionalProperties"] = False


class TeamIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_closed_roles)

    name: TeamName
    roles: dict[TeamName, RoleIn] = Field(
        min_length=1, max_length=16, description="role name → its KPI, target, window, "
        "traits and agent (all optional), in the venture's order")


class KpiIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: TeamName
    value: float = Field(strict=True, ge=-1e12, le=1e12)
    note: str = Field(default="", max_length=1000)


def _registry(brain: Brain, ctx: RequestContext) -> AgentRegistry:
    return AgentRegistry(brain.engine, context=ctx, settings=brain.settings)


def _scheduler(brain: Brain, ctx: RequestContext) -> MetaAgentScheduler:
    return MetaAgentScheduler(_registry(brain, ctx), brain=brain,
                              folder=brain.settings.home / "missions")


def _factory(brain: Brain, ctx: RequestContext) -> BusinessFactory:
    return BusinessFactory(_registry(brain, ctx), brain.memory)


# -- missions --------------------------------------------------------------------------------
@router.get("/missions")
async def list_missions(ctx: RequestContext = Depends(requires(Scope.AGENTS_READ)),
                        brain: Brain = Depends(get_brain)) -> dict[str, Any]:
    scheduler = _scheduler(brain, ctx)
    found = await asyncio.to_thread(scheduler.missions)
    return {"missions": [m.to_dict() for m in found.values()],
            "problems": scheduler.problems}  # the folder's files skipped, with why


@router.post("/missions", status_code=201, responses=_CONFLICT)
async def create_mission(body: MissionIn,
                         ctx: RequestContext = Depends(requires(Scope.AGENTS_WRITE)),
                         brain: Brain = Depends(get_brain)) -> dict[str, Any]:
    spec = body.model_dump(exclude={"replace"}, exclude_none=True)
    mission = await asyncio.to_thread(_scheduler(brain, ctx).add, spec, replace=body.replace)
    record_action(brain.audit, ctx, "mission.create", mission.name)
    return mission.to_dict()


@router.get("/missions/{mission}", responses=_MISSION_404)
async def show_mission(mission: str, ctx: RequestContext = Depends(requires(Scope.AGENTS_READ)),
                       brain: Brain = Depends(get_brain)) -> dict[str, Any]:
    scheduler = _scheduler(brain, ctx)
    found = await asyncio.to_thread(scheduler.mission, mission)
    runs = await asyncio.to_thread(scheduler.store.runs, mission=mission, limit=10)
    return {**found.to_dict(), "runs": [r.to_dict() for r in runs]}


@router.post("/missions/{mission}/run", responses=_MISSION_404)
async def run_mission(mission: str, ctx: RequestContext = Depends(requires(Scope.AGENTS_WRITE)),
                      brain: Brain = Depends(get_brain)) -> dict[str, Any]:
    """Run the mission now: its agents answer, the outcomes are stored and recorded."""
    scheduler = _scheduler(brain, ctx)
    run = await asyncio.to_thread(scheduler.run, mission)
    _, outcomes = await asyncio.to_thread(scheduler.store.run, run.id)
    record_action(brain.audit, ctx, "mission.run", mission, details={"run": run.id})
    return {**run.to_dict(), "outcomes": [o.to_dict() for o in outcomes]}


@router.get("/missions/{mission}/runs", responses=_MISSION_404)
async def mission_runs(mission: str, limit: int = Query(50, ge=1, le=500),
                       ctx: RequestContext = Depends(requires(Scope.AGENTS_READ)),
                       brain: Brain = Depends(get_brain)) -> dict[str, Any]:
    scheduler = _scheduler(brain, ctx)
    await asyncio.to_thread(scheduler.mission, mission)
    runs = await asyncio.to_thread(scheduler.store.runs, mission=mission, limit=limit)
    return {"runs": [r.to_dict() for r in runs]}


@router.get("/missions/{mission}/runs/{run_id}", responses=_RUN_404)
async def mission_run(mission: str, run_id: str,
                      ctx: RequestContext = Depends(requires(Scope.AGENTS_READ)),
                      brain: Brain = Depends(get_brain)) -> dict[str, Any]:
    from cerebra.agents.mission_store import UnknownRun

    run, outcomes = await asyncio.to_thread(_scheduler(brain, ctx).store.run, run_id)
    if run.mission != mission:
        raise UnknownRun(f"mission {mission!r} has no run {run_id!r}", field="run_id")
    return {**run.to_dict(), "outcomes": [o.to_dict() for o in outcomes]}


# -- teams -----------------------------------------------------------------------------------
@router.get("/teams")
async def list_teams(ctx: RequestContext = Depends(requires(Scope.AGENTS_READ)),
                     brain: Brain = Depends(get_brain)) -> dict[str, Any]:
    return {"teams": await asyncio.to_thread(_factory(brain, ctx).list)}


@router.post("/teams", status_code=201, responses={**_CONFLICT, **_TEAM_404})
async def create_team(body: TeamIn, ctx: RequestContext = Depends(requires(Scope.AGENTS_WRITE)),
                      brain: Brain = Depends(get_brain)) -> dict[str, Any]:
    """A venture with its roles; a role without an agent gets a new one (404: an unknown
    agent named)."""
    roles = {name: {"kpi": r.kpi, "target": r.target, "window": r.window,
                    **({"traits": r.traits} if r.traits else {})}
             for name, r in body.roles.items()}
    agents = {name: r.agent_id for name, r in body.roles.items() if r.agent_id}
    shown = await asyncio.to_thread(_factory(brain, ctx).create_business, body.name, roles,
                                    agents=agents)
    record_action(brain.audit, ctx, "team.create", body.name)
    return shown


@router.get("/teams/{team}", responses=_TEAM_404)
async def show_team(team: str, ctx: RequestContext = Depends(requires(Scope.AGENTS_READ)),
                    brain: Brain = Depends(get_brain)) -> dict[str, Any]:
    return await asyncio.to_thread(_factory(brain, ctx).show, team)


async def _team_for_kpi(team: str, ctx: RequestContext = Depends(requires(Scope.AGENTS_WRITE)),
                        brain: Brain = Depends(get_brain)) -> tuple[RequestContext, str]:
    """The caller and the venture of the path, found before the body is read (an unknown
    venture is a 404 whatever the body)."""
    await asyncio.to_thread(_factory(brain, ctx).show, team, kpis=0)
    return ctx, team


@router.post("/teams/{team}/kpi", responses=_TEAM_404)
async def record_kpi(body: KpiIn, found: tuple[RequestContext, str] = Depends(_team_for_kpi),
                     brain: Brain = Depends(get_brain)) -> dict[str, Any]:
    """Record a KPI value for the role's agent; the answer says whether it reassigned."""
    ctx, name = found
    result = await asyncio.to_thread(_factory(brain, ctx).record_kpi, name, body.role,
                                     body.value, note=body.note)
    if result.reassigned_to:
        record_action(brain.audit, ctx, "team.reassign", name,
                      details={"role": body.role, "to": result.reassigned_to})
    return result.to_dict()

"""Agents over HTTP: /api/agents — the caller's tenant's agents (list, show with title
history, create), their careers (record a result), lineage (mentor, clone, combine),
deletion, and answers given as an agent. Another tenant's agent is not found (404); a
sandboxed agent does not answer users (409). An agent's template renders through the
PromptManager (an unknown template: 404). Logic lives in cerebra.agents."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, Strict

from cerebra.agents import Agent, AgentRegistry
from cerebra.agents.persona import TRAIT_PATTERN
from cerebra.agents.registry import ID_PATTERN, MODEL_PATTERN, TEMPLATE_PATTERN
from cerebra.auth.principal import Scope
from cerebra.brain import Brain
from cerebra.context import RequestContext
from cerebra.governance.audit_setup import record_action
from cerebra.server.auth import requires
from cerebra.server.deps import get_brain

router = APIRouter(prefix="/api/agents", tags=["agents"])

AgentId = Annotated[str, Field(pattern=ID_PATTERN, description="1-64 letters, digits, _ . -")]
Title = Annotated[str, Field(pattern="^(novice|promoted|expert|demoted|sandboxed)$")]


class AgentIn(BaseModel):
    """A new agent: its persona is generated from its traits."""

    model_config = ConfigDict(extra="forbid")

    id: AgentId
    traits: list[Annotated[str, Field(pattern=TRAIT_PATTERN)]] = Field(
        default_factory=list, max_length=16, description="e.g. brave, curious")
    preferred_models: list[Annotated[str, Field(pattern=MODEL_PATTERN)]] = Field(
        default_factory=list, max_length=8, description="model names, first preferred")
    template: str | None = Field(default=None, pattern=TEMPLATE_PATTERN,
                                 description="the prompt template it answers with")
    memory_scope: AgentId | None = Field(
        default=None, description="the agent id its memories are kept under (default: its id)")


class RecordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Annotated[bool, Strict()] | Annotated[float, Field(ge=0, le=1, strict=True)] = \
        Field(description="a success (true), a failure (false) or a score in [0, 1]")
    reason: str | None = Field(default=None, max_length=500)


class MentorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mentee_id: AgentId = Field(description="created with the mentor's traits if new")


class CloneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    new_id: AgentId


class CombineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    other_id: AgentId
    new_id: AgentId


class AskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=20_000, pattern=r"\S",
                        description="the user's prompt (not blank)")
    model: str | None = Field(default=None, max_length=200,
                              description="default: the agent's first preferred model")
    memory: bool = Field(default=True, strict=True)


def _registry(brain: Brain, ctx: RequestContext, *, templates: bool = False) -> AgentRegistry:
    """The caller's tenant's agents; with `templates`, agents' templates render through the
    PromptManager (the tenant's stored templates, with history and memory context)."""
    renderer = None
    if templates:
        from cerebra.prompts.manager import AgentTemplates, PromptManager
        from cerebra.prompts.template_store import TemplateStore

        renderer = AgentTemplates(PromptManager(templates=TemplateStore(brain.engine),
                                                store=brain.memory, context=ctx))
    return AgentRegistry(brain.engine, context=ctx, settings=brain.settings,
                         templates=renderer)


def _found(scope: Scope, *more: Scope) -> Any:
    """A dependency: the caller (holding the scopes) and the agent of the path, loaded
    before the body is read, so an unknown id is a 404 whatever the body."""
    async def dependency(agent_id: str, ctx: RequestContext = Depends(requires(scope, *more)),
                         brain: Brain = Depends(get_brain)) -> tuple[RequestContext, Agent]:
        return ctx, await asyncio.to_thread(_registry(brain, ctx).get, agent_id)

    return dependency


_READ = _found(Scope.AGENTS_READ)
_WRITE = _found(Scope.AGENTS_WRITE)
_ASK = _found(Scope.AGENTS_READ, Scope.QUERY)


@router.get("")
async def list_agents(
    title: Title | None = None,
    ctx: RequestContext = Depends(requires(Scope.AGENTS_READ)),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    agents = await asyncio.to_thread(_registry(brain, ctx).list, title=title)
    return {"agents": [a.to_dict() for a in agents]}


@router.post("", status_code=201)
async def create_agent(
    body: AgentIn,
    ctx: RequestContext = Depends(requires(Scope.AGENTS_WRITE)),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    agent = await asyncio.to_thread(
        _registry(brain, ctx).create, body.id, body.traits,
        preferred_models=body.preferred_models, template=body.template,
        memory_scope=body.memory_scope)
    record_action(brain.audit, ctx, "agent.create", agent.id, details={"traits": body.traits})
    return agent.to_dict()


@router.get("/{agent_id}")
async def show_agent(
    found: tuple[RequestContext, Agent] = Depends(_READ),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    ctx, agent = found
    history = await asyncio.to_thread(_registry(brain, ctx).history, agent.id)
    return {**agent.to_dict(), "history": [h.to_dict() for h in history]}


@router.delete("/{agent_id}")
async def delete_agent(
    found: tuple[RequestContext, Agent] = Depends(_WRITE),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    ctx, agent = found
    await asyncio.to_thread(_registry(brain, ctx).delete, agent.id)
    record_action(brain.audit, ctx, "agent.delete", agent.id)
    return {"deleted": agent.id}


@router.post("/{agent_id}/record")
async def record_result(
    body: RecordIn,
    found: tuple[RequestContext, Agent] = Depends(_WRITE),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    ctx, agent = found
    updated = await asyncio.to_thread(
        _registry(brain, ctx).record, agent.id, body.outcome, reason=body.reason)
    if updated.title != agent.title:
        record_action(brain.audit, ctx, "agent.title", agent.id,
                      details={"from": agent.title, "to": updated.title})
    return updated.to_dict()


@router.post("/{agent_id}/mentor")
async def mentor_agent(
    body: MentorIn,
    found: tuple[RequestContext, Agent] = Depends(_WRITE),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    ctx, agent = found
    mentee = await asyncio.to_thread(_registry(brain, ctx).mentor, agent.id, body.mentee_id)
    record_action(brain.audit, ctx, "agent.mentor", mentee.id, details={"mentor": agent.id})
    return mentee.to_dict()


@router.post("/{agent_id}/clone", status_code=201)
async def clone_agent(
    body: CloneIn,
    found: tuple[RequestContext, Agent] = Depends(_WRITE),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    ctx, agent = found
    clone = await asyncio.to_thread(_registry(brain, ctx).clone, agent.id, body.new_id)
    record_action(brain.audit, ctx, "agent.clone", clone.id, details={"source": agent.id})
    return clone.to_dict()


@router.post("/{agent_id}/combine", status_code=201)
async def combine_agents(
    body: CombineIn,
    found: tuple[RequestContext, Agent] = Depends(_WRITE),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    ctx, agent = found
    child = await asyncio.to_thread(
        _registry(brain, ctx).combine, agent.id, body.other_id, body.new_id)
    record_action(brain.audit, ctx, "agent.combine", child.id,
                  details={"parents": [agent.id, body.other_id]})
    return child.to_dict()


@router.post("/{agent_id}/ask")
async def ask_agent(
    body: AskIn,
    found: tuple[RequestContext, Agent] = Depends(_ASK),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    ctx, agent = found
    registry = _registry(brain, ctx, templates=agent.template is not None)
    answer = await asyncio.to_thread(
        registry.ask, agent.id, body.prompt, brain=brain, model=body.model,
        memory=body.memory)
    return {"agent_id": agent.id, **answer.to_dict()}

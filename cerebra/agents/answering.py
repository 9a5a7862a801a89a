"""Answers given as an agent: the one path every such answer takes through Brain, with the
agent's persona (or its template rendered), its memory scope and its preferred model.

A sandboxed agent answers only in competitions (`competition=True`); for users it is
refused (AgentSandboxed, a 409). The template renderer is anything with
`render(name, **variables) -> str` (the PromptManager): it gets the agent's name, persona,
mood, tone, traits and the prompt, and its text replaces the persona. Without a renderer an
agent's template is not applied and its generated persona is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from cerebra.agents.model import Agent, AgentSandboxed

if TYPE_CHECKING:
    from cerebra.brain import Brain
    from cerebra.context import RequestContext
    from cerebra.exchange import Answer


class TemplateRenderer(Protocol):
    def render(self, name: str, /, **variables: Any) -> str: ...


def persona_of(agent: Agent, prompt: str, templates: TemplateRenderer | None) -> str:
    """The system text the agent answers with: its template rendered, else its persona."""
    if agent.template is None or templates is None:
        return agent.system_prompt
    return templates.render(
        agent.template, name=agent.id, persona=agent.system_prompt, mood=agent.mood,
        tone=agent.tone, traits=list(agent.traits), prompt=prompt)


def model_for(agent: Agent, brain: Brain) -> str | None:
    """The first of the agent's preferred models the brain has (in rotation, else at all);
    None: the default model or the router decides."""
    available = set(brain.models.available())
    for name in agent.preferred_models:
        if name in available:
            return name
    return next((name for name in agent.preferred_models if name in brain.models), None)


def answer_as(
    agent: Agent,
    prompt: str,
    *,
    brain: Brain,
    context: RequestContext,
    templates: TemplateRenderer | None = None,
    competition: bool = False,
    **options: Any,
) -> Answer:
    """Answer `prompt` as `agent` (Brain.ask's options pass through; an explicit `model`
    wins over the agent's preferences)."""
    if agent.sandboxed and not competition:
        raise AgentSandboxed(
            f"agent {agent.id!r} is sandboxed: it runs only in competitions, not for users",
            field="agent_id")
    model = options.pop("model", None) or model_for(agent, brain)
    options.setdefault("endpoint", "agents")
    return brain.ask(
        prompt, context=context.with_(agent_id=agent.memory_scope),
        persona=persona_of(agent, prompt, templates), model=model, **options)

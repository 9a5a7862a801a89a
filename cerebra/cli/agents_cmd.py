"""`cerebra agents …`: a tenant's agents on the local database — list, show (with title
history), create, record a result, mentor, clone, combine, sandbox, release, delete — and
`ask`, an answer as an agent through a Brain loaded in this process. Tables with Rich, or
--json. Logic lives in cerebra.agents."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from cerebra.errors import InvalidInput

app = typer.Typer(help="Agents: personas, careers (titles), lineage; answers as an agent.",
                  no_args_is_help=True)
out = Console()

_TENANT = typer.Option("default", "--tenant", help="the tenant whose agents these are")
_JSON = typer.Option(False, "--json", help="print JSON instead of a table")
_TRUE = {"true", "yes", "success", "win", "won"}
_FALSE = {"false", "no", "failure", "fail", "loss", "lost"}


def _registry(tenant: str) -> Any:
    from cerebra.agents import AgentRegistry
    from cerebra.auth.principal import local_admin
    from cerebra.context import RequestContext

    return AgentRegistry(context=RequestContext(tenant_id=tenant,
                                                principal=local_admin(tenant)))


def parse_outcome(text: str) -> bool | float:
    """true/false (or yes/no, win/loss…) or a score in [0, 1]."""
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    try:
        score = float(word)
    except ValueError:
        score = -1.0
    if not 0.0 <= score <= 1.0:
        raise InvalidInput(f"outcome {text!r}: true, false or a score between 0 and 1",
                           field="outcome")
    return score


def _show(agents: list[Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps([a.to_dict() for a in agents], indent=2))
        return
    table = Table()
    table.add_column("id", no_wrap=True)  # never cut: it is what the other commands take
    for name in ("title", "results", "mean", "bounds", "traits", "mentor", "models"):
        table.add_column(name)
    for a in agents:
        table.add_row(
            a.id, a.title + (" (sandboxed)" if a.sandboxed and a.title != "sandboxed" else ""),
            str(a.n), f"{a.mean_score:.2f}", f"[{a.lower_bound:.2f}, {a.upper_bound:.2f}]",
            ", ".join(a.traits), a.mentor_id or "", ", ".join(a.preferred_models))
    out.print(table)


@app.command("list")
def list_agents(
    title: str = typer.Option(None, "--title", help="only agents with this title"),
    tenant: str = _TENANT,
    as_json: bool = _JSON,
) -> None:
    """The tenant's agents, by id."""
    _show(_registry(tenant).list(title=title), as_json)


@app.command("show")
def show(agent_id: str, tenant: str = _TENANT, as_json: bool = _JSON) -> None:
    """One agent: persona, record and the history of its titles."""
    registry = _registry(tenant)
    agent, history = registry.get(agent_id), registry.history(agent_id)
    if as_json:
        print(json.dumps({**agent.to_dict(), "history": [h.to_dict() for h in history]},
                         indent=2))
        return
    _show([agent], False)
    out.print(f"[bold]persona[/bold] ({agent.mood}, {agent.tone}): {agent.system_prompt}",
              highlight=False)
    table = Table("from", "to", "reason")
    for change in history:
        table.add_row(change.from_title or "-", change.to_title, change.reason)
    out.print(table)


def _one(agent: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(agent.to_dict(), indent=2))
    else:
        _show([agent], False)


@app.command("create")
def create(
    agent_id: str,
    trait: list[str] = typer.Option([], "--trait", help="a trait (repeat): brave, curious…"),
    model: list[str] = typer.Option([], "--model", help="a preferred model (repeat)"),
    template: str = typer.Option(None, "--template", help="the prompt template it uses"),
    memory_scope: str = typer.Option(None, "--memory-scope", help="default: its id"),
    tenant: str = _TENANT,
    as_json: bool = _JSON,
) -> None:
    """A new agent with a persona generated from its traits."""
    _one(_registry(tenant).create(agent_id, trait, preferred_models=model, template=template,
                                  memory_scope=memory_scope), as_json)


@app.command("record")
def record(
    agent_id: str,
    outcome: str = typer.Argument(..., help="true, false or a score between 0 and 1"),
    reason: str = typer.Option(None, "--reason"),
    tenant: str = _TENANT,
    as_json: bool = _JSON,
) -> None:
    """Add a result to the agent's record (its title follows)."""
    _one(_registry(tenant).record(agent_id, parse_outcome(outcome), reason=reason), as_json)


@app.command("mentor")
def mentor(mentor_id: str, mentee_id: str, tenant: str = _TENANT,
           as_json: bool = _JSON) -> None:
    """MENTOR_ID mentors MENTEE_ID (created with the mentor's traits if new)."""
    _one(_registry(tenant).mentor(mentor_id, mentee_id), as_json)


@app.command("clone")
def clone(source_id: str, new_id: str, tenant: str = _TENANT, as_json: bool = _JSON) -> None:
    """A new agent with SOURCE_ID's persona and SOURCE_ID as its mentor."""
    _one(_registry(tenant).clone(source_id, new_id), as_json)


@app.command("combine")
def combine(first_id: str, second_id: str, new_id: str, tenant: str = _TENANT,
            as_json: bool = _JSON) -> None:
    """A new agent with both agents' traits merged."""
    _one(_registry(tenant).combine(first_id, second_id, new_id), as_json)


@app.command("sandbox")
def sandbox(agent_id: str, reason: str = typer.Option(..., "--reason"),
            tenant: str = _TENANT, as_json: bool = _JSON) -> None:
    """Sandbox the agent: it runs only in competitions until released or promoted."""
    _one(_registry(tenant).sandbox(agent_id, reason), as_json)


@app.command("release")
def release(agent_id: str, reason: str = typer.Option(..., "--reason"),
            tenant: str = _TENANT, as_json: bool = _JSON) -> None:
    """Take the agent out of the sandbox, back to its title before it."""
    _one(_registry(tenant).release(agent_id, reason), as_json)


@app.command("delete")
def delete(agent_id: str, tenant: str = _TENANT) -> None:
    """Remove the agent and its title history."""
    _registry(tenant).delete(agent_id)
    out.print(f"deleted {agent_id}", highlight=False)


@app.command("ask")
def ask(
    agent_id: str,
    prompt: str,
    model: str = typer.Option(None, "--model", help="default: the agent's preferred model"),
    tenant: str = _TENANT,
    as_json: bool = _JSON,
) -> None:
    """Answer PROMPT as the agent (its persona, memory scope and preferred model), with a
    Brain loaded in this process."""
    from cerebra.brain import Brain

    registry = _registry(tenant)
    registry.get(agent_id)  # an unknown agent fails before any model loads
    brain = Brain.from_settings()
    try:
        if registry.get(agent_id).template is not None:  # rendered by the PromptManager
            from cerebra.prompts.manager import AgentTemplates, PromptManager
            from cerebra.prompts.template_store import TemplateStore

            registry.templates = AgentTemplates(PromptManager(
                templates=TemplateStore(brain.engine), store=brain.memory,
                context=registry.context))
        answer = registry.ask(agent_id, prompt, brain=brain, model=model, endpoint="cli")
    finally:
        brain.close()
    if as_json:
        print(json.dumps({"agent_id": agent_id, **answer.to_dict()}, indent=2))
    else:
        out.print(answer.answer, highlight=False)

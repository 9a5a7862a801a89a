"""`cerebra missions …` and `cerebra teams …` on the local database: missions (list, add
from a YAML file, run now or today's daily ones through a Brain loaded in this process,
runs and a run's outcomes) and teams (create, list, show, record a KPI). Tables with Rich,
or --json. Logic lives in cerebra.agents.missions and cerebra.agents.teams."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from cerebra.errors import InvalidInput

missions_app = typer.Typer(help="Missions: prompt sets with checks that agents run daily.",
                           no_args_is_help=True)
teams_app = typer.Typer(help="Teams: ventures with roles, agents and KPIs.",
                        no_args_is_help=True)
out = Console()

_TENANT = typer.Option("default", "--tenant", help="the tenant whose missions these are")
_JSON = typer.Option(False, "--json", help="print JSON instead of a table")


def register(app: typer.Typer) -> None:
    app.add_typer(missions_app, name="missions")
    app.add_typer(teams_app, name="teams")


def _registry(tenant: str) -> Any:
    from cerebra.agents import AgentRegistry
    from cerebra.auth.principal import local_admin
    from cerebra.context import RequestContext

    return AgentRegistry(context=RequestContext(tenant_id=tenant,
                                                principal=local_admin(tenant)))


def _scheduler(tenant: str, brain: Any = None) -> Any:
    from cerebra.agents.missions import MetaAgentScheduler

    return MetaAgentScheduler(_registry(tenant), brain=brain)


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2))


# -- missions --------------------------------------------------------------------------------
@missions_app.command("list")
def list_missions(tenant: str = _TENANT, as_json: bool = _JSON) -> None:
    """The tenant's missions: the missions folder's and the stored ones."""
    scheduler = _scheduler(tenant)
    found = scheduler.missions()
    for problem in scheduler.problems:  # a folder file that does not parse: skipped
        print(f"skipped {problem}", file=sys.stderr)
    if as_json:
        _print([m.to_dict() for m in found.values()])
        return
    table = Table("name", "prompts", "agents", "daily", "source")
    for m in found.values():
        table.add_row(m.name, str(len(m.prompts)), ", ".join(m.agents) or "(all)",
                      "yes" if m.daily else "no", m.source)
    out.print(table)


@missions_app.command("add")
def add(file: Path = typer.Argument(..., help="a mission YAML file (see the README)"),
        replace: bool = typer.Option(False, "--replace", help="replace a stored one"),
        tenant: str = _TENANT, as_json: bool = _JSON) -> None:
    """Store the mission of a YAML file (its name: the file's `name`, else its stem)."""
    import yaml

    try:
        spec = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"cannot read {file}: {exc.strerror}", field="file") from None
    except yaml.YAMLError:
        raise InvalidInput(f"{file} is not YAML", field="file") from None
    if isinstance(spec, dict):
        spec.setdefault("name", file.stem)
    mission = _scheduler(tenant).add(spec, replace=replace)
    if as_json:
        _print(mission.to_dict())
    else:
        out.print(f"added mission {mission.name} ({len(mission.prompts)} prompts)",
                  highlight=False)


def _show_run(run: Any, as_json: bool, outcomes: list[Any] | None = None) -> None:
    if as_json:
        body = run.to_dict()
        if outcomes is not None:
            body["outcomes"] = [o.to_dict() for o in outcomes]
        _print(body)
        return
    out.print(f"run {run.id} of {run.mission} ({run.trigger}, {run.state})", highlight=False)
    table = Table("agent", "passed", "mean", "errors", "latency ms", "title")
    for agent_id, s in run.summary.get("agents", {}).items():
        latency = s.get("mean_latency_ms")
        table.add_row(agent_id, f"{s['passed']}/{s['prompts']}", f"{s['mean_score']:.2f}",
                      str(s["errors"]), "" if latency is None else f"{latency:.0f}",
                      s["title"])
    out.print(table)
    if "error" in run.summary:
        out.print(f"failed: {run.summary['error']}", highlight=False)


@missions_app.command("run")
def run(name: str = typer.Argument(None, help="the mission; none: today's daily missions"),
        tenant: str = _TENANT, as_json: bool = _JSON) -> None:
    """Run a mission now (or, without a name, today's daily missions not yet run), with a
    Brain loaded in this process."""
    scheduler = _scheduler(tenant)
    if name is not None:
        scheduler.mission(name)  # an unknown mission fails before any model loads
    try:
        runs = [scheduler.run(name)] if name is not None else scheduler.perform_daily()
    finally:
        scheduler.close()
    if as_json and name is None:
        _print([r.to_dict() for r in runs])
        return
    for made in runs:
        _show_run(made, as_json)
    if not runs:
        out.print("no daily mission left to run today", highlight=False)


@missions_app.command("runs")
def runs(name: str = typer.Argument(None, help="only this mission's runs"),
         run_id: str = typer.Option(None, "--id", help="one run, with its outcomes"),
         limit: int = typer.Option(20, "--limit", min=1, max=500),
         tenant: str = _TENANT, as_json: bool = _JSON) -> None:
    """The tenant's mission runs, newest first (or one run with its outcomes)."""
    scheduler = _scheduler(tenant)
    if run_id is not None:
        found, outcomes = scheduler.store.run(run_id)
        _show_run(found, as_json, outcomes)
        return
    if name is not None:
        scheduler.mission(name)
    made = scheduler.store.runs(mission=name, limit=limit)
    if as_json:
        _print([r.to_dict() for r in made])
        return
    table = Table("id", "mission", "trigger", "day", "state")
    for r in made:
        table.add_row(r.id, r.mission, r.trigger, r.day or "", r.state)
    out.print(table)


# -- teams -----------------------------------------------------------------------------------
def _factory(tenant: str) -> Any:
    from cerebra.agents.teams import BusinessFactory

    return BusinessFactory(_registry(tenant))


def _show_team(shown: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _print(shown)
        return
    table = Table("role", "agent", "kpi", "target", "last values", "specialisation")
    for r in shown["roles"]:
        table.add_row(r["role"], r["agent_id"], r["kpi"], f"{r['target']:g}",
                      ", ".join(f"{k['value']:g}" for k in r["kpis"][-5:]),
                      ", ".join(r["specialisation"]))
    out.print(f"venture {shown['name']}", highlight=False)
    out.print(table)


@teams_app.command("create")
def create(name: str, role: list[str] = typer.Option(..., "--role", help="a role (repeat)"),
           target: float = typer.Option(0.5, "--target", help="the roles' KPI target"),
           window: int = typer.Option(5, "--window", help="values a role is judged on"),
           tenant: str = _TENANT, as_json: bool = _JSON) -> None:
    """A venture with roles, each given a new agent of its specialisation."""
    factory = _factory(tenant)
    roles = {r: {"target": target, "window": window} for r in role}
    if len(roles) != len(role):
        raise InvalidInput("a role is named twice", field="role")
    _show_team(factory.create_business(name, roles), as_json)


@teams_app.command("list")
def list_teams(tenant: str = _TENANT, as_json: bool = _JSON) -> None:
    """The tenant's ventures."""
    names = _factory(tenant).list()
    if as_json:
        _print(names)
    else:
        for n in names:
            out.print(n, highlight=False)


@teams_app.command("show")
def show(name: str, tenant: str = _TENANT, as_json: bool = _JSON) -> None:
    """A venture: its roles, their agents, KPIs and assignments."""
    _show_team(_factory(tenant).show(name), as_json)


@teams_app.command("kpi")
def kpi(name: str, role: str, value: float,
        note: str = typer.Option("", "--note"), tenant: str = _TENANT,
        as_json: bool = _JSON) -> None:
    """Record a KPI VALUE for the ROLE of venture NAME (it may reassign the role)."""
    result = _factory(tenant).record_kpi(name, role, value, note=note)
    if as_json:
        _print(result.to_dict())
        return
    out.print(f"{role} ({result.agent_id}): {value:g} "
              f"{'met' if result.met else 'below'} the target", highlight=False)
    if result.reassigned_to:
        out.print(f"reassigned to {result.reassigned_to}: {result.reason}", highlight=False)

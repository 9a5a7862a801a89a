"""`cerebra router …`: routing decisions and their reasons (from the database), and feedback
and live arm statistics (from the running server, which owns the learning state)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from cerebra.config import get_settings
from cerebra.errors import CerebraError, NotFound

app = typer.Typer(help="Routing decisions, statistics and feedback.", no_args_is_help=True)
out = Console()


def _store() -> Any:
    from cerebra.db.engine import make_engine
    from cerebra.db.migrate import upgrade
    from cerebra.routing.state import RouterStore

    settings = get_settings()
    settings.ensure_home()
    engine = make_engine(settings.db_url)
    upgrade(engine)
    return RouterStore(engine)


def _server(url: str | None) -> str:
    s = get_settings()
    return (url or f"http://{s.server.host}:{s.server.port}").rstrip("/")


def _call(method: str, url: str, **kwargs: Any) -> Any:
    try:
        response = httpx.request(method, url, timeout=30, **kwargs)
    except httpx.HTTPError as exc:
        raise CerebraError(f"cannot reach the server at {url}: {exc}") from exc
    if response.status_code >= 400:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:200]
        raise CerebraError(f"server answered {response.status_code}: {message}")
    return response.json()


@app.command("decisions")
def decisions(
    limit: int = typer.Option(20, "--limit", min=1, max=1000),
    tenant: str = typer.Option(None, "--tenant"),
    agent: str = typer.Option(None, "--agent"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Recent routing decisions, newest first, with the reason for each."""
    found = _store().list_decisions(tenant_id=tenant, agent_id=agent, limit=limit)
    if as_json:
        print(json.dumps([d.to_dict() for d in found], indent=2))
        return
    table = Table("id", "strategy", "chosen", "served by", "ok", "ms", "quality", "reason")
    for d in found:
        table.add_row(
            d.id[:12],
            d.strategy,
            d.arm,
            d.served_by or "-",
            "yes" if d.ok else "no",
            f"{d.latency_ms:.0f}",
            "-" if d.quality is None else f"{d.quality:.2f}",
            d.reason,
        )
    out.print(table)


@app.command("show")
def show(decision_id: str = typer.Argument(...)) -> None:
    """One decision in full: candidates, attempts, errors, reward."""
    decision = _store().get_decision(decision_id)
    if decision is None:
        raise NotFound(f"unknown decision {decision_id!r}")
    print(json.dumps(decision.to_dict(), indent=2))


@app.command("feedback")
def feedback(
    decision_id: str = typer.Argument(...),
    quality: float = typer.Argument(..., min=0.0, max=1.0, help="0 = useless … 1 = perfect"),
    url: str = typer.Option(None, "--url", help="server URL (default from settings)"),
) -> None:
    """Rate an answer; the running server's bandit learns from it."""
    body = {"decision_id": decision_id, "quality": quality}
    result = _call("POST", f"{_server(url)}/api/router/feedback", json=body)
    print(f"reward {result['reward']:.3f} recorded for {result['served_by']}")


@app.command("stats")
def stats(
    agent: str = typer.Option("", "--agent"),
    url: str = typer.Option(None, "--url"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Live per-backend statistics of the running server's router, for the caller's tenant
    (the server takes it from the request's credentials)."""
    params = {"agent_id": agent}
    result = _call("GET", f"{_server(url)}/api/router/stats", params=params)
    if as_json:
        print(json.dumps(result, indent=2))
        return
    table = Table("backend", "pulls", "mean reward", "cooling")
    for arm in result["arms"]:
        mean = arm.get("mean_reward")
        table.add_row(
            arm["arm"],
            str(arm.get("pulls", 0)),
            "-" if mean is None else f"{mean:.3f}",
            "yes" if arm.get("health", {}).get("cooling") else "no",
        )
    out.print(f"strategy: {result['strategy']} (scope {result['scope']})")
    out.print(table)

"""`cerebra ratings` (the Bradley–Terry leaderboard) and `cerebra competitions list | show`
(judged competitions), read from the database as the local admin of a tenant."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Column, Table

from cerebra.config import get_settings
from cerebra.context import RequestContext

competitions_app = typer.Typer(help="Judged competitions: answers, verdicts, comparisons.",
                               no_args_is_help=True)
out = Console()


def _store() -> Any:
    from cerebra.db.engine import make_engine
    from cerebra.db.migrate import upgrade
    from cerebra.judging.store import JudgingStore

    settings = get_settings()
    settings.ensure_home()
    engine = make_engine(settings.db_url)
    upgrade(engine)
    return JudgingStore(engine)


def _context(tenant: str) -> RequestContext:
    from cerebra.auth.principal import local_admin

    return RequestContext(tenant_id=tenant, principal=local_admin(tenant))


def ratings(
    category: str = typer.Option(None, "--category", help="only comparisons of this category"),
    bootstrap: int = typer.Option(200, "--bootstrap", min=0, max=2000,
                                  help="bootstrap resamples (0: normal approximation)"),
    level: float = typer.Option(0.95, "--level", min=0.5, max=0.999),
    seed: int = typer.Option(0, "--seed", min=0),
    tenant: str = typer.Option("default", "--tenant"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The leaderboard: Bradley–Terry ratings with confidence intervals, strongest first."""
    board = _store().leaderboard(_context(tenant), category=category, n_boot=bootstrap,
                                 level=level, seed=seed)
    if as_json:
        print(json.dumps({**board.to_dict(), "category": category}, indent=2))
        return
    if not board.ratings:
        print("no comparisons yet: judged competitions fill the leaderboard")
        return
    pct = f"{board.level:.0%}"
    table = Table("#", "contestant", "Elo", f"{pct} interval", "θ", "comparisons", "wins")
    for rank, r in enumerate(board.ratings, 1):
        d = r.to_dict()
        table.add_row(str(rank), r.contestant, f"{d['elo']:.0f}",
                      f"{d['elo_low']:.0f} – {d['elo_high']:.0f}", f"{r.theta:+.3f}",
                      str(r.comparisons), f"{r.wins:g}")
    out.print(table)
    out.print(f"{board.comparisons} comparisons; intervals: {board.to_dict()['intervals']}")


@competitions_app.command("list")
def list_competitions(
    limit: int = typer.Option(20, "--limit", min=1, max=1000),
    contestant: str = typer.Option(None, "--contestant"),
    tenant: str = typer.Option("default", "--tenant"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Judged competitions, newest first."""
    found = _store().list_competitions(_context(tenant), limit=limit, contestant=contestant)
    if as_json:
        print(json.dumps(found, indent=2))
        return
    table = Table(Column("id", no_wrap=True, min_width=32), "judge", "winner", "agree",
                  "contestants", "prompt")
    for c in found:
        agreement = "-" if c["agreement"] is None else f"{c['agreement']:.2f}"
        prompt = c["prompt"] if len(c["prompt"]) <= 60 else c["prompt"][:59] + "…"
        table.add_row(c["id"], c["judge"], c["winner_id"] or "(tie)", agreement,
                      ", ".join(c["contestants"]), prompt)
    out.print(table)


@competitions_app.command("show")
def show_competition(
    competition_id: str = typer.Argument(...),
    tenant: str = typer.Option("default", "--tenant"),
) -> None:
    """One competition in full (JSON): answers, scores, rationale, pairwise results."""
    print(json.dumps(_store().get_competition(_context(tenant), competition_id), indent=2))


def register(app: typer.Typer) -> None:
    app.command("ratings")(ratings)
    app.add_typer(competitions_app, name="competitions")

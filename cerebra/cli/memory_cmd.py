"""`cerebra memory …`: add, search, list, delete memories from the command line."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from cerebra.config import get_settings
from cerebra.errors import NotFound

app = typer.Typer(help="Long-term memory: add, search, list, delete.", no_args_is_help=True)
out = Console()


def _store() -> Any:
    from cerebra.runtime import build_memory_store

    return build_memory_store(get_settings())


@app.command("add")
def add(
    text: str = typer.Argument(..., help="the memory text"),
    agent: str = typer.Option("", "--agent"),
    user: str = typer.Option("", "--user"),
    session: str = typer.Option("", "--session"),
    tag: list[str] = typer.Option([], "--tag", help="a tag (repeatable)"),
    importance: float = typer.Option(0.5, "--importance", min=0.0, max=1.0),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Store a memory."""
    uid = _store().add(
        agent, text, tags=tag, importance=importance, user_id=user, session_id=session
    )
    print(json.dumps({"id": uid}) if as_json else uid)


@app.command("search")
def search(
    query: str = typer.Argument(...),
    agent: str = typer.Option(None, "--agent"),
    user: str = typer.Option(None, "--user"),
    k: int = typer.Option(5, "--k", min=1, max=200),
    tag: list[str] = typer.Option([], "--tag"),
    explain: bool = typer.Option(False, "--explain", help="show each signal's contribution"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Hybrid search (full text + vectors + importance/recency)."""
    hits = _store().search(agent, query, k=k, user_id=user, tags=tag)
    if as_json:
        print(json.dumps([h.to_dict(explain=explain) for h in hits], indent=2))
        return
    table = Table("score", "id", "text", *(["signals"] if explain else []))
    for h in hits:
        row = [f"{h.score:.3f}", h.memory.uid[:12], h.memory.text[:80]]
        if explain:
            row.append(", ".join(f"{k}={v:.3f}" for k, v in h.signals.items()))
        table.add_row(*row)
    out.print(table)


@app.command("list")
def list_(
    agent: str = typer.Option(None, "--agent"),
    user: str = typer.Option(None, "--user"),
    limit: int = typer.Option(20, "--limit", min=1, max=10_000),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The most recent memories."""
    items = _store().recent(agent, k=limit, user_id=user)
    if as_json:
        print(json.dumps([m.to_dict() for m in items], indent=2))
        return
    table = Table("id", "agent", "user", "tags", "text")
    for m in items:
        table.add_row(m.uid[:12], m.agent_id, m.user_id, ",".join(m.tags), m.text[:80])
    out.print(table)


@app.command("delete")
def delete(memory_id: str = typer.Argument(..., help="the memory id")) -> None:
    """Delete one memory (text, vector and full-text entry)."""
    if not _store().delete(memory_id):
        raise NotFound(f"memory {memory_id} not found")
    print(f"deleted {memory_id}")

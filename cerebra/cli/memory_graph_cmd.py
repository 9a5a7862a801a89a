"""`cerebra memory graph`: the knowledge graph of the memories from the command line.

Without options it lists the scope's entities with how many memories mention each;
`--entity NAME` shows one entity (neighbours, relations, memory ids); `--source A --target
B` prints the shortest chain of entities linking two. Scope options as the other memory
commands; the default tenant. Misuse (one end of a path, an entity and a path) is one line
on stderr and exit 2, through InvalidInput.
"""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from cerebra.config import get_settings
from cerebra.errors import InvalidInput

out = Console()


def _store() -> Any:
    from cerebra.runtime import build_memory_store

    return build_memory_store(get_settings())


def graph_cmd(
    agent: str | None = typer.Option(None, "--agent", help="agent id (scope)"),
    user: str | None = typer.Option(None, "--user", help="user id (scope)"),
    session: str | None = typer.Option(None, "--session", help="session id (scope)"),
    entity: str | None = typer.Option(None, "--entity", help="show one entity"),
    source: str | None = typer.Option(None, "--source", help="path: the first entity"),
    target: str | None = typer.Option(None, "--target", help="path: the last entity"),
    kind: str | None = typer.Option(None, "--kind", help="person | name | date | number | thing"),
    like: str | None = typer.Option(None, "--like", help="entities whose key contains this"),
    limit: int = typer.Option(50, "--limit", help="rows to show (1-500)"),
    max_hops: int = typer.Option(4, "--max-hops", help="longest path searched (1-6)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Entities, one entity's neighbours and memories, or a path between two entities."""
    from cerebra.memory.graph import graph_of

    if (source is None) != (target is None):
        raise InvalidInput("a path needs both --source and --target", field="target")
    if entity is not None and source is not None:
        raise InvalidInput("give --entity or a path (--source, --target), not both", field="entity")
    if kind is not None and kind not in ("person", "name", "date", "number", "thing"):
        raise InvalidInput(f"unknown kind {kind!r}", field="kind")
    store = _store()
    try:
        scope = store.scope(agent, user_id=user, session_id=session)
        graph = graph_of(store.backend)
        if source is not None and target is not None:
            path = graph.path(scope, source, target, max_hops=max_hops)
            print(json.dumps({"path": path}) if as_json else " → ".join(path))
            return
        if entity is not None:
            _show_entity(graph.entity(scope, entity, limit=limit), as_json)
            return
        rows = graph.entities(scope, limit=limit, kind=kind, like=like)
    finally:
        store.backend.close()
    if as_json:
        print(json.dumps({"entities": rows}, indent=2))
        return
    table = Table("entity", "name", "kind", "memories")
    for r in rows:
        table.add_row(r["key"], r["name"], r["kind"], str(r["memories"]))
    out.print(table)


def _show_entity(found: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps({"entity": found}, indent=2))
        return
    aliases = f" (also {', '.join(found['aliases'])})" if found["aliases"] else ""
    out.print(f"{found['name']} [{found['kind']}]: {found['memories']} memories{aliases}")
    table = Table("neighbour", "kind", "shared memories")
    for n in found["neighbours"]:
        table.add_row(n["key"], n["kind"], str(n["memories"]))
    out.print(table)
    for r in found["relations"]:
        out.print(f"{r['subject']} —{r['predicate']}→ {r['object']}  ({r['memory_id'][:12]})")
    out.print("memories: " + ", ".join(uid[:12] for uid in found["memory_ids"]))

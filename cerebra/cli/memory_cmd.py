"""`cerebra memory …`: the MemoryStore operations from the command line, one command each.

Bad input raises InvalidInput, which the CLI entry point prints as one line (exit 2).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from cerebra.cli.memory_graph_cmd import graph_cmd
from cerebra.cli.memory_integrity_cmd import repair_cmd, verify_cmd
from cerebra.cli.memory_weights_cmd import weights_cmd
from cerebra.config import get_settings
from cerebra.errors import InvalidInput, NotFound

app = typer.Typer(
    help="Long-term memory: add, search, update, delete, prune, verify, repair.",
    no_args_is_help=True,
)
out = Console()

AGENT = typer.Option(None, "--agent", help="agent id (scope)")
USER = typer.Option(None, "--user", help="user id (scope)")
SESSION = typer.Option(None, "--session", help="session id (scope)")
FILTER = typer.Option(None, "--filter", help='metadata filter as JSON, e.g. \'{"speaker": "Ana"}\'')
JSON_OUT = typer.Option(False, "--json", help="print JSON")
app.command("verify")(verify_cmd)
app.command("repair")(repair_cmd)
app.command("weights")(weights_cmd)
app.command("graph")(graph_cmd)


def _store() -> Any:
    from cerebra.runtime import build_memory_store

    return build_memory_store(get_settings())


def _json_arg(raw: str | None, field: str) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{field} is not valid JSON: {exc.msg}", field=field) from exc


def _print_memories(items: list[Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps([m.to_dict() for m in items], indent=2))
        return
    table = Table("id", "agent", "user", "tags", "text")
    for m in items:
        table.add_row(m.uid[:12], m.agent_id, m.user_id, ",".join(m.tags), m.text[:80])
    out.print(table)


def _print_hits(hits: list[Any], as_json: bool, explain: bool) -> None:
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


@app.command("add")
def add(
    text: str = typer.Argument(..., help="the memory text"),
    agent: str = typer.Option("", "--agent"),
    user: str = typer.Option("", "--user"),
    session: str = typer.Option("", "--session"),
    tag: list[str] = typer.Option([], "--tag", help="a tag (repeatable)"),
    importance: float = typer.Option(0.5, "--importance"),
    metadata: str = typer.Option(None, "--metadata", help="metadata as a JSON object"),
    ttl: float = typer.Option(None, "--ttl", help="seconds until the memory expires"),
    as_json: bool = JSON_OUT,
) -> None:
    """Store a memory (an identical one in the same scope is stored once)."""
    uid = _store().add(
        agent,
        text,
        tags=tag,
        importance=importance,
        user_id=user,
        session_id=session,
        metadata=_json_arg(metadata, "metadata"),
        ttl=ttl,
    )
    print(json.dumps({"id": uid}) if as_json else uid)


@app.command("import")
def import_(
    path: Path = typer.Argument(..., help="JSON-lines file: one text or item object per line"),
    agent: str = typer.Option("", "--agent"),
    user: str = typer.Option("", "--user"),
    session: str = typer.Option("", "--session"),
) -> None:
    """Store a batch atomically (all items or none)."""
    if not path.is_file():
        raise InvalidInput(f"no such file: {path}", field="path")
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8", errors="strict").splitlines(), 1):
        if line.strip():
            items.append(_json_arg(line, f"line {n}"))
    ids = _store().add_many(agent, items, user_id=user, session_id=session)
    print(json.dumps({"ids": ids}))


@app.command("ingest-logs")
def ingest_logs_cmd(
    path: Path = typer.Argument(..., help="a JSON-lines or plain-text log file"),
    agent: str = typer.Option("", "--agent"),
    user: str = typer.Option("", "--user"),
    session: str = typer.Option("", "--session"),
) -> None:
    """Turn log lines into memories tagged with their level, logger and event."""
    from cerebra.memory.ingest import ingest_logs

    report = ingest_logs(_store(), path, agent_id=agent, user_id=user, session_id=session)
    print(json.dumps(report.to_dict()))


@app.command("search")
def search(
    query: str = typer.Argument(...),
    agent: str = AGENT,
    user: str = USER,
    session: str = SESSION,
    k: int = typer.Option(5, "--k", min=1, max=200),
    tag: list[str] = typer.Option([], "--tag"),
    filter_: str = FILTER,
    explain: bool = typer.Option(False, "--explain", help="show each signal's contribution"),
    as_json: bool = JSON_OUT,
    as_of: str = typer.Option(
        None, "--as-of", help="recall as of a date (YYYY-MM-DD), datetime or UNIX time"
    ),
) -> None:
    """Hybrid search (full text + vectors + importance/salience/recency); with --as-of, the
    facts valid at that moment rank above those that superseded them."""
    hits = _store().search(
        agent,
        query,
        k=k,
        user_id=user,
        session_id=session,
        tags=tag,
        filters=_json_arg(filter_, "filter"),
        explain=explain,
        as_of=as_of,
    )
    _print_hits(hits, as_json, explain)


@app.command("similar")
def similar(
    text: str = typer.Argument(...),
    agent: str = AGENT,
    user: str = USER,
    session: str = SESSION,
    k: int = typer.Option(5, "--k", min=1, max=200),
    filter_: str = FILTER,
    as_json: bool = JSON_OUT,
) -> None:
    """Pure semantic neighbours."""
    hits = _store().similar(
        agent, text, k=k, user_id=user, session_id=session, filters=_json_arg(filter_, "filter")
    )
    _print_hits(hits, as_json, False)


@app.command("list")
def list_(
    agent: str = AGENT,
    user: str = USER,
    session: str = SESSION,
    tag: str = typer.Option(None, "--tag", help="only memories with this tag"),
    filter_: str = FILTER,
    limit: int = typer.Option(20, "--limit", min=1, max=10_000),
    as_json: bool = JSON_OUT,
) -> None:
    """The most recent memories (optionally by tag or filter)."""
    store, where = _store(), _json_arg(filter_, "filter")
    if tag is not None:
        items = store.by_tag(agent, tag, k=limit, user_id=user, session_id=session, filters=where)
    else:
        items = store.recent(agent, k=limit, user_id=user, session_id=session, filters=where)
    _print_memories(items, as_json)


@app.command("get")
def get(memory_id: str = typer.Argument(...)) -> None:
    """One memory as JSON."""
    memory = _store().get(memory_id)
    if memory is None:
        raise NotFound(f"memory {memory_id} not found", field="memory_id")
    print(json.dumps(memory.to_dict(), indent=2))


@app.command("update")
def update(
    memory_id: str = typer.Argument(...),
    text: str = typer.Option(None, "--text"),
    tag: list[str] = typer.Option(None, "--tag", help="replace the tags (repeatable)"),
    importance: float = typer.Option(None, "--importance"),
    metadata: str = typer.Option(None, "--metadata", help="replace the metadata (JSON)"),
    ttl: float = typer.Option(None, "--ttl"),
) -> None:
    """Edit a memory; the old version stays in its history."""
    memory = _store().update(
        memory_id,
        text=text,
        tags=tag or None,
        importance=importance,
        metadata=_json_arg(metadata, "metadata"),
        ttl=ttl,
    )
    print(json.dumps(memory.to_dict(), indent=2))


@app.command("history")
def history(memory_id: str = typer.Argument(...)) -> None:
    """Every version of a memory, oldest first."""
    versions = _store().history(memory_id)
    if not versions:
        raise NotFound(f"memory {memory_id} not found", field="memory_id")
    print(json.dumps([v.to_dict() for v in versions], indent=2))


@app.command("delete")
def delete(memory_id: str = typer.Argument(..., help="the memory id")) -> None:
    """Delete one memory (text, vector, full-text entry and history)."""
    if not _store().delete(memory_id):
        raise NotFound(f"memory {memory_id} not found", field="memory_id")
    print(f"deleted {memory_id}")


@app.command("delete-all")
def delete_all(
    agent: str = AGENT,
    user: str = USER,
    session: str = SESSION,
    all_: bool = typer.Option(False, "--all", help="confirm deleting the whole tenant"),
) -> None:
    """Hard-delete every memory of a scope; nothing outside it is touched."""
    if agent is None and user is None and session is None and not all_:
        raise InvalidInput("give --agent, --user or --session (or --all)", field="scope")
    print(json.dumps({"deleted": _store().delete_all(agent, user_id=user, session_id=session)}))


@app.command("feedback")
def feedback(
    memory_ids: list[str] = typer.Argument(..., help="ids of memories used in an answer"),
    reward: float = typer.Option(..., "--reward", help="-1 (bad) .. 1 (good)"),
) -> None:
    """Raise or lower the salience of memories."""
    print(json.dumps({"updated": _store().reinforce(memory_ids, reward)}))


@app.command("prune")
def prune(
    agent: str = AGENT,
    user: str = USER,
    session: str = SESSION,
    threshold: float = typer.Option(0.5, "--threshold"),
    ttl: float = typer.Option(None, "--ttl", help="only judge memories older than this (s)"),
) -> None:
    """Delete expired memories and those worth less than the threshold."""
    n = _store().prune(agent, threshold=threshold, ttl=ttl, user_id=user, session_id=session)
    print(json.dumps({"deleted": n}))

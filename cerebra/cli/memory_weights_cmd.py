"""`cerebra memory weights`: the retrieval weights learned from feedback, from the command
line — what the tenant (or `--agent`) searches with beside the defaults and the versions;
`--reset` returns the scope to the defaults, `--rollback N` restores version N (each adds a
version; none is lost). The default tenant, on the configured database. Misuse (both
`--reset` and `--rollback`, an unknown version) is one line on stderr and exit 2.
"""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from cerebra.config import get_settings
from cerebra.errors import InvalidInput, NotFound

out = Console()


def weights_cmd(
    agent: str | None = typer.Option(None, "--agent", help="an agent's weights (scope)"),
    reset: bool = typer.Option(False, "--reset", help="back to the default weights"),
    rollback: int | None = typer.Option(None, "--rollback", help="restore this version"),
    history: int = typer.Option(10, "--history", help="versions to list"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Show, reset or roll back the retrieval weights learned from feedback."""
    from cerebra.context import DEFAULT_TENANT
    from cerebra.db.engine import make_engine
    from cerebra.db.migrate import upgrade
    from cerebra.memory.configured import retrieval_weights
    from cerebra.memory.learned_weights import learned_weights

    if reset and rollback is not None:
        raise InvalidInput("give --reset or --rollback, not both", field="reset")
    if history < 0:
        raise InvalidInput("--history must be >= 0", field="history")
    settings = get_settings()
    settings.ensure_home()
    engine = make_engine(settings.db_url)
    try:
        upgrade(engine)
        learned = learned_weights(engine, retrieval_weights(settings), settings.memory)
        if reset or rollback is not None:
            try:
                changed = (learned.reset(DEFAULT_TENANT, agent) if reset
                           else learned.rollback(DEFAULT_TENANT, agent, int(rollback or 0)))
            except NotFound as exc:
                raise InvalidInput(exc.message, field=exc.field) from None
            print(json.dumps(changed.to_dict()))
            return
        shown = learned.describe(DEFAULT_TENANT, agent, history=history)
    finally:
        engine.dispose()
    _print(shown, settings.memory.learn_weights, as_json)


def _print(shown: dict[str, Any], learning: bool, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"learning": learning, **shown}, indent=2))
        return
    out.print(f"weights of {shown['agent_id'] or 'the tenant'}: {shown['source']}"
              f"{'' if shown['version'] is None else ' version ' + str(shown['version'])}"
              f" (learning {'on' if learning else 'off'})")
    table = Table("signal", "weight", "default")
    for name, value in shown["weights"].items():
        table.add_row(name, f"{value:.4f}", f"{shown['defaults'][name]:.4f}")
    out.print(table)
    versions = Table("version", "event", "updates", "pairs", "loss", "based on")
    for v in shown["history"]:
        versions.add_row(str(v["version"]), v["event"], str(v["updates"]), str(v["pairs"]),
                         "" if v["loss"] is None else f"{v['loss']:.4f}",
                         "" if v["based_on"] is None else str(v["based_on"]))
    out.print(versions)

"""`cerebra plugins list`: the plugins the settings load (folder and entry points), each
with its state — registered, sandboxed, or failed with the stage and the reason — and what
it registered. Loading imports them, as a Brain would."""

from __future__ import annotations

import json

import typer

from cerebra.config import get_settings

app = typer.Typer(help="Plugins: what loads, what failed and why.", no_args_is_help=True)


@app.command("list")
def list_plugins(
    as_json: bool = typer.Option(False, "--json", help="one JSON object"),
) -> None:
    """Load the configured plugins and show each one's state (in registration order)."""
    from cerebra.plugins.manager import PluginManager
    from cerebra.plugins.setup import plugins_folder

    settings = get_settings()
    folder = plugins_folder(settings)
    manager = PluginManager(folder=folder, entry_points=settings.plugins.entry_points)
    infos = manager.load()
    if as_json:
        typer.echo(json.dumps({"enabled": settings.plugins.enabled, "folder": str(folder),
                               "plugins": [i.to_dict() for i in infos]}, indent=2))
        return
    if not settings.plugins.enabled:
        typer.echo("plugins are not enabled (CEREBRA_PLUGINS__ENABLED=false): a Brain loads "
                   "none of these")
    typer.echo(f"folder: {folder}{'' if folder.is_dir() else ' (missing)'}; entry points: "
               f"{'on' if settings.plugins.entry_points else 'off'}")
    if not infos:
        typer.echo("no plugins found")
    for info in infos:
        line = f"{info.name:24} {info.state:10} p={info.meta.priority:<4} {info.source:11}"
        if info.state == "failed":
            line += f" {info.stage}: {info.error}"
        else:
            provides = "; ".join(f"{k}: {', '.join(sorted(v))}"
                                 for k, v in info.provides.items() if v)
            line += f" {info.meta.description}" + (f" [{provides}]" if provides else "")
        typer.echo(line.rstrip())

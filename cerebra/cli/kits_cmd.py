"""`cerebra kits list | show NAME | install PATH_OR_ENTRYPOINT | run NAME`: the kits known
here (built-in and installed under <home>/kits), installing one (validated, atomic), and
evaluating a model on a kit's held-out items through the Brain (raw completions)."""

from __future__ import annotations

import json

import typer

app = typer.Typer(help="Kits: tasks with training and held-out items and a checker.",
                  no_args_is_help=True)


@app.command("list")
def list_kits(as_json: bool = typer.Option(False, "--json", help="one JSON object")) -> None:
    """The kits known here: built-in and installed."""
    from cerebra.kits.registry import known_kits

    kits = [{**kit.summary(), "origin": origin} for kit, origin in known_kits()]
    if as_json:
        typer.echo(json.dumps({"kits": kits}, indent=2))
        return
    for k in kits:
        typer.echo(f"{k['name']:20} {k['origin']:9} {k['checker']:11} "
                   f"train {k['train_items']:>5}  eval {k['eval_items']:>5}  {k['task']}")


@app.command("show")
def show(name: str = typer.Argument(..., help="the kit's name"),
         as_json: bool = typer.Option(False, "--json")) -> None:
    """One kit: its description, checker, counts, workflow defaults and a sample prompt."""
    from cerebra.kits.registry import get_kit

    kit = get_kit(name)
    info = {**kit.summary(), "path": str(kit.path), "prompt_example": kit.prompt(kit.eval[0]),
            "reference_example": kit.eval[0].reference}
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    for key, value in info.items():
        typer.echo(f"{key}: {value}")


@app.command("install")
def install(source: str = typer.Argument(..., help="a kit folder or an entry point name "
                                         "in the group cerebra.kits"),
            replace: bool = typer.Option(False, "--replace", help="replace an installed kit "
                                         "of the same name")) -> None:
    """Validate a kit and install it under <home>/kits/<name> (all or nothing)."""
    from cerebra.kits.registry import install as install_kit

    kit = install_kit(source, replace=replace)
    typer.echo(f"installed {kit.name} ({len(kit.train)} train, {len(kit.eval)} eval items) "
               f"at {kit.path}")


@app.command("run")
def run(name: str = typer.Argument(..., help="the kit's name"),
        model: str = typer.Option(None, "--model", help="a registered model or adapter "
                                  "(default: the serving default)"),
        limit: int = typer.Option(None, "--limit", min=1, help="only the first N eval items"),
        show_items: bool = typer.Option(False, "--items", help="print every item's answer"),
        as_json: bool = typer.Option(False, "--json", help="one JSON object")) -> None:
    """Evaluate a model on the kit's held-out items and print its accuracy."""
    from cerebra.brain import Brain
    from cerebra.kits.registry import get_kit
    from cerebra.kits.run import brain_answerer, evaluate

    kit = get_kit(name)
    brain = Brain.from_settings()
    try:
        chosen = model or brain.models.default_name or ""
        result = evaluate(kit, brain_answerer(brain, kit, model=model), limit=limit,
                          model=chosen)
    finally:
        brain.close()
    if as_json:
        typer.echo(json.dumps(result.to_dict(items=show_items), indent=2))
        return
    if show_items:
        for item in result.items:
            typer.echo(f"{'PASS' if item.passed else 'fail'} {item.id}: {item.answer.strip()!r}"
                       f" ({item.reason})")
    typer.echo(f"{kit.name} on {result.model}: {result.passed}/{result.total} = "
               f"{result.accuracy:.1%} (95% {result.low:.1%}–{result.high:.1%}), "
               f"{result.seconds:.1f} s")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="kits")

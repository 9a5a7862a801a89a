"""`cerebra prompts …`: a tenant's prompt templates on the local database — list, show
(every version and label), add a version, label, render (a stored template or a folder's
file, in the sandbox), A/B tests (`ab create|record|compare`) and `rewrite` (variants judged
against the current version; a Brain is loaded only when a model is needed). Tables with
Rich, or --json. Logic lives in cerebra.prompts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from cerebra.errors import InvalidInput

app = typer.Typer(help="Prompt templates: versions, labels, rendering, A/B tests, rewrites.",
                  no_args_is_help=True)
ab_app = typer.Typer(help="A/B tests between two versions of a template.",
                     no_args_is_help=True)
app.add_typer(ab_app, name="ab")
out = Console()

_TENANT = typer.Option("default", "--tenant", help="the tenant whose templates these are")
_JSON = typer.Option(False, "--json", help="print JSON instead of a table")


def _context(tenant: str) -> Any:
    from cerebra.auth.principal import local_admin
    from cerebra.context import RequestContext

    return RequestContext(tenant_id=tenant, principal=local_admin(tenant))


def _engine() -> Any:
    from cerebra.db.migrate import run_migrations

    return run_migrations()


def _store() -> Any:
    from cerebra.prompts.template_store import TemplateStore

    return TemplateStore(_engine())


def _dump(value: Any) -> None:
    print(json.dumps(value, indent=2))


def parse_variables(pairs: list[str], as_json: str | None) -> dict[str, Any]:
    """`--var name=value` pairs (values as JSON when they parse, else text) and --vars JSON."""
    values: dict[str, Any] = {}
    if as_json:
        try:
            loaded = json.loads(as_json)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"--vars is not JSON: {exc.msg}", field="vars") from None
        if not isinstance(loaded, dict):
            raise InvalidInput("--vars must be a JSON object", field="vars")
        values.update(loaded)
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"--var {pair!r}: write name=value", field="var")
        try:
            values[name.strip()] = json.loads(text)
        except json.JSONDecodeError:
            values[name.strip()] = text
    return values


def _source(source: str) -> str:
    """The text itself, or @path for a file's text."""
    if source.startswith("@"):
        path = Path(source[1:])
        if not path.is_file():
            raise InvalidInput(f"no file {str(path)!r}", field="source")
        return path.read_text(encoding="utf-8")
    return source


@app.command("list")
def list_templates(tenant: str = _TENANT, as_json: bool = _JSON) -> None:
    """The tenant's templates: newest version, number of versions, labels."""
    found = _store().list(context=_context(tenant))
    if as_json:
        _dump(found)
        return
    table = Table()
    for name in ("name", "latest", "versions", "labels"):
        table.add_column(name, no_wrap=name == "name")
    for item in found:
        labels = ", ".join(f"{k}={v}" for k, v in item["labels"].items())
        table.add_row(item["name"], str(item["latest"]), str(item["versions"]), labels)
    out.print(table)


@app.command("show")
def show(
    name: str,
    version: int = typer.Option(None, "--version", help="default: the production version"),
    label: str = typer.Option(None, "--label"),
    tenant: str = _TENANT,
    as_json: bool = _JSON,
) -> None:
    """One version's text, and every version with its origin and labels."""
    store, context = _store(), _context(tenant)
    current = store.get(name, version=version, label=label, context=context)
    versions = store.versions(name, context=context)
    if as_json:
        _dump({**current.to_dict(), "versions": [
            {k: v for k, v in item.to_dict().items() if k != "source"} for item in versions]})
        return
    out.print(f"[bold]{name}[/] version {current.version}"
              f" ({', '.join(current.labels) or 'no label'})", highlight=False)
    out.print(current.source, highlight=False, markup=False)
    table = Table()
    for column in ("version", "origin", "parent", "labels", "note"):
        table.add_column(column)
    for item in versions:
        table.add_row(str(item.version), item.origin, str(item.parent_version or ""),
                      ", ".join(item.labels), item.note)
    out.print(table)


@app.command("add")
def add(
    name: str,
    source: str = typer.Argument(..., help="the template's text, or @file"),
    label: list[str] = typer.Option([], "--label", help="labels to point at it"),
    note: str = typer.Option("", "--note"),
    tenant: str = _TENANT,
    as_json: bool = _JSON,
) -> None:
    """Store SOURCE as the next version of NAME (the first version is production)."""
    added = _store().add(name, _source(source), labels=label, note=note,
                         context=_context(tenant))
    if as_json:
        _dump(added.to_dict())
    else:
        out.print(f"{added.name} version {added.version} ({', '.join(added.labels) or '-'})",
                  highlight=False)


@app.command("label")
def label(name: str, label_name: str = typer.Argument(..., metavar="LABEL"),
          version: int = typer.Argument(...), tenant: str = _TENANT,
          as_json: bool = _JSON) -> None:
    """Point LABEL of NAME at VERSION."""
    moved = _store().set_label(name, label_name, version, context=_context(tenant))
    if as_json:
        _dump(moved.to_dict())
    else:
        out.print(f"{name}: {label_name} -> version {moved.version}", highlight=False)


@app.command("render")
def render(
    name: str,
    var: list[str] = typer.Option([], "--var", help="name=value (value as JSON or text)"),
    variables: str = typer.Option(None, "--vars", help="the variables as a JSON object"),
    version: int = typer.Option(None, "--version"),
    label_name: str = typer.Option(None, "--label"),
    folder: Path = typer.Option(None, "--folder", help="also look for NAME in this folder"),
    agent: str = typer.Option("cli", "--agent"),
    mood: str = typer.Option(None, "--mood"),
    tone: str = typer.Option(None, "--tone"),
    tenant: str = _TENANT,
) -> None:
    """Render NAME in the sandbox (a stored version, else the folder's file)."""
    from cerebra.prompts.manager import PromptManager

    values = parse_variables(var, variables)
    manager = PromptManager(folder, templates=_store(), context=_context(tenant))
    print(manager.render(agent, name, version=version, label=label_name, mood=mood,
                         tone=tone, **values))


@ab_app.command("create")
def ab_create(name: str, version_a: int, version_b: int,
              split: float = typer.Option(0.5, "--split", help="share of keys given to b"),
              tenant: str = _TENANT, as_json: bool = _JSON) -> None:
    """An A/B test of NAME between VERSION_A and VERSION_B."""
    from cerebra.prompts.ab import ABTests

    test = ABTests(_engine()).create(name, version_a, version_b, split=split,
                                     context=_context(tenant))
    if as_json:
        _dump(test.to_dict())
    else:
        out.print(test.id, highlight=False)


@ab_app.command("record")
def ab_record(
    test_id: str,
    value: float,
    arm: str = typer.Option(None, "--arm", help="a or b"),
    key: str = typer.Option("", "--key", help="the key the arm was assigned by"),
    kind: str = typer.Option("feedback", "--kind", help="feedback, judge, …"),
    tenant: str = _TENANT,
) -> None:
    """Record one outcome of a test for an arm (or the arm KEY is assigned to)."""
    from cerebra.prompts.ab import ABTests

    if arm is not None and arm not in ("a", "b"):
        raise InvalidInput("--arm is a or b", field="arm")
    got = ABTests(_engine()).record(test_id, value, arm=arm, key=key,  # type: ignore[arg-type]
                                    kind=kind, context=_context(tenant))
    out.print(f"recorded {value:g} for arm {got}", highlight=False)


@ab_app.command("compare")
def ab_compare(test_id: str, kind: str = typer.Option(None, "--kind"),
               alpha: float = typer.Option(0.05, "--alpha"), tenant: str = _TENANT,
               as_json: bool = _JSON) -> None:
    """The test's outcomes compared: means, the test used, p-value and the winner."""
    from cerebra.prompts.ab import ABTests

    tests = ABTests(_engine())
    context = _context(tenant)
    result = tests.compare(test_id, kind=kind, alpha=alpha, context=context)
    if as_json:
        _dump({**tests.get(test_id, context=context).to_dict(),
               "comparison": result.to_dict()})
        return
    shown = result.to_dict()
    out.print(f"a: n={shown['n_a']} mean={shown['mean_a']}   b: n={shown['n_b']} "
              f"mean={shown['mean_b']}   {shown['test']} p={shown['p_value']}   winner: "
              f"{shown['winner'] or 'none (not significant)'}", highlight=False)


def _judge(contains: str | None, regex: str | None, model: str | None, brain: Any) -> Any:
    from cerebra.judging.checker import Check, CheckerJudge

    chosen = [x for x in (contains, regex, model) if x is not None]
    if len(chosen) != 1:
        raise InvalidInput("choose one judge: --judge-contains, --judge-regex or --judge-model",
                           field="judge")
    if contains is not None:
        return CheckerJudge(Check.normalized(contains, contains=True))
    if regex is not None:
        return CheckerJudge(Check.regex(regex))
    from cerebra.judging.model_judge import ModelJudge

    return ModelJudge(str(model), brain=brain)


@app.command("rewrite")
def rewrite(
    name: str,
    inputs: Path = typer.Option(..., "--inputs", help="a JSON list of variable objects"),
    rule: list[str] = typer.Option([], "--rule", help="default: every rule"),
    model: str = typer.Option(None, "--model", help="a model that writes a variant too"),
    answer: bool = typer.Option(True, "--answer/--no-answer",
                                help="answer each rendered prompt (else judge the prompts)"),
    judge_contains: str = typer.Option(None, "--judge-contains"),
    judge_regex: str = typer.Option(None, "--judge-regex"),
    judge_model: str = typer.Option(None, "--judge-model"),
    alpha: float = typer.Option(0.05, "--alpha"),
    tenant: str = _TENANT,
    as_json: bool = _JSON,
) -> None:
    """Variants of NAME judged against its production version on INPUTS; the best is
    adopted only when it wins with significance."""
    from cerebra.prompts.manager import brain_model
    from cerebra.prompts.rewriter import PromptRewriter

    try:
        cases = json.loads(inputs.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"--inputs: {exc}", field="inputs") from None
    if not isinstance(cases, list) or not all(isinstance(c, dict) for c in cases):
        raise InvalidInput("--inputs must hold a JSON list of objects", field="inputs")
    store, context = _store(), _context(tenant)
    store.get(name, context=context)  # an unknown template fails before any model loads
    brain = None
    if model or answer or judge_model:
        from cerebra.brain import Brain

        brain = Brain.from_settings()
    try:
        rewriter = PromptRewriter(
            store, judge=_judge(judge_contains, judge_regex, judge_model, brain),
            model=brain_model(brain, context=context, model=model) if brain and model else None,
            model_name=model or "model",
            answer=brain_model(brain, context=context) if brain and answer else None)
        report = rewriter.rewrite(name, cases, rules=rule or None, alpha=alpha,
                                  context=context)
    finally:
        if brain is not None:
            brain.close()
    if as_json:
        _dump(report.to_dict())
        return
    table = Table()
    for column in ("candidate", "version", "mean current", "mean candidate", "p", "note"):
        table.add_column(column)
    for c in report.candidates:
        sig = c.significance.to_dict() if c.significance else {}
        table.add_row(c.origin, str(c.version or "-"), str(sig.get("mean_a", "")),
                      str(sig.get("mean_b", "")), str(sig.get("p_value", "")),
                      c.skipped or ("adopted" if c.version == report.adopted else ""))
    out.print(table)
    out.print(f"adopted version {report.adopted}" if report.adopted else report.notes[0],
              highlight=False)

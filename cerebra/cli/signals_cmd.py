"""`cerebra signals list | examples | rlaif`: a tenant's signals on traces, the training rows
they make, and RLAIF labelling of repeated prompts with a judge — over the configured
database, as the local admin of a tenant (logic in cerebra.improve)."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from cerebra.config import get_settings
from cerebra.context import RequestContext
from cerebra.errors import InvalidInput

app = typer.Typer(help="Signals on traces (feedback, judges, checkers, RLAIF) and the "
                       "training rows they make.", no_args_is_help=True)
out = Console()


def _engine() -> Any:
    from cerebra.db.engine import make_engine
    from cerebra.db.migrate import upgrade

    settings = get_settings()
    settings.ensure_home()
    engine = make_engine(settings.db_url)
    upgrade(engine)
    return engine


def _context(tenant: str) -> RequestContext:
    from cerebra.auth.principal import local_admin

    return RequestContext(tenant_id=tenant, principal=local_admin(tenant))


@app.command("list")
def list_signals(
    trace: str = typer.Option(None, "--trace", help="only this trace's signals"),
    task: str = typer.Option(None, "--task"),
    kind: str = typer.Option(None, "--kind", help="score|thumbs|correction|label|judge|"
                                                  "checker|rlaif"),
    since: float = typer.Option(None, "--since", min=0, help="unix time"),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000),
    tenant: str = typer.Option("default", "--tenant"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The tenant's signals, newest first."""
    from cerebra.improve.signals import SignalStore

    found = SignalStore(_engine()).list(_context(tenant), trace_id=trace, task=task,
                                        kind=kind, since=since, limit=limit)
    if as_json:
        print(json.dumps([s.to_dict() for s in found]))
        return
    if not found:
        out.print("no signals yet")
        return
    table = Table("trace", "kind", "value", "task", "source", "trust", "text")
    for s in found:
        table.add_row(s.trace_id[:12], s.kind, "" if s.value is None else f"{s.value:g}",
                      s.task or "", s.source, f"{s.trust:g}", (s.text or "")[:40])
    out.print(table)


@app.command("examples")
def examples(
    task: str = typer.Option(None, "--task"),
    since: float = typer.Option(None, "--since", min=0, help="unix time"),
    min_score: float = typer.Option(0.5, "--min-score", min=0.0, max=1.0),
    tenant: str = typer.Option("default", "--tenant"),
    as_json: bool = typer.Option(False, "--json", help="every row, with its lineage"),
) -> None:
    """The SFT rows and preference pairs the signals make (see docs/signals.md)."""
    from dataclasses import asdict

    from cerebra.improve.signals import training_examples

    sft, pairs = training_examples(_engine(), _context(tenant), task=task, since=since,
                                   min_score=min_score)
    if as_json:
        print(json.dumps({"sft": [asdict(r) for r in sft], "pairs": [asdict(p) for p in pairs]}))
        return
    out.print(f"{len(sft)} SFT rows, {len(pairs)} preference pairs", highlight=False)


@app.command("rlaif")
def rlaif(
    judge_model: str = typer.Option(None, "--judge-model", help="a model judges each pair"),
    judge_contains: str = typer.Option(None, "--judge-contains",
                                       help="a checker: the answer containing this wins"),
    judge_regex: str = typer.Option(None, "--judge-regex",
                                    help="a checker: the answer matching this wins"),
    task: str = typer.Option(None, "--task", help="only traces labelled with this task"),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000),
    tenant: str = typer.Option("default", "--tenant"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Label pairs of differing answers to repeated prompts with a judge, in both orders."""
    from cerebra.improve.rlaif import label_pairs
    from cerebra.judging.checker import Check, CheckerJudge

    chosen = [x for x in (judge_model, judge_contains, judge_regex) if x is not None]
    if len(chosen) != 1:
        raise InvalidInput("choose one judge: --judge-model, --judge-contains or "
                           "--judge-regex", field="judge")
    context = _context(tenant)
    if judge_model is None:
        check = (Check.normalized(judge_contains, contains=True) if judge_contains is not None
                 else Check.regex(str(judge_regex)))
        report = label_pairs(_engine(), context, CheckerJudge(check), task=task, limit=limit)
    else:
        from cerebra.brain import Brain
        from cerebra.judging.model_judge import ModelJudge

        brain = Brain.from_settings()
        try:
            judge = ModelJudge(judge_model, brain=brain, context=context)
            report = label_pairs(brain.engine, context, judge, task=task, limit=limit)
        finally:
            brain.close()
    if as_json:
        print(json.dumps(report.to_dict()))
        return
    out.print(f"{report.pairs} pairs judged by {report.judge}: {report.labelled} labelled, "
              f"{report.position_only} position only, {report.ties} ties, {report.failed} "
              f"failed, {report.already} labelled before", highlight=False)

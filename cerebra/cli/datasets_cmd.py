"""`cerebra datasets list | show | import | export | curate | delete`: versioned training
datasets in the local database, as the local admin of a tenant (logic in
cerebra.improve.datasets; a bad row or option is one line on stderr and exit 2)."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from cerebra.config import get_settings
from cerebra.context import RequestContext
from cerebra.errors import InvalidInput

app = typer.Typer(help="Training datasets: import, curate, version, export.",
                  no_args_is_help=True)
out = Console()


class ImportFormat(StrEnum):
    auto = "auto"
    openai = "openai"
    trl = "trl"


class ExportFormat(StrEnum):
    openai = "openai"
    trl = "trl"


class Kind(StrEnum):
    sft = "sft"
    dpo = "dpo"


class PiiMode(StrEnum):
    scrub = "scrub"
    drop = "drop"
    keep = "keep"


def _store() -> Any:
    from cerebra.db.engine import make_engine
    from cerebra.db.migrate import upgrade
    from cerebra.improve.datasets import DatasetStore

    settings = get_settings()
    settings.ensure_home()
    engine = make_engine(settings.db_url)
    upgrade(engine)
    return DatasetStore(engine)


def _context(tenant: str) -> RequestContext:
    from cerebra.auth.principal import local_admin

    return RequestContext(tenant_id=tenant, principal=local_admin(tenant))


def _summary(v: Any) -> str:
    return (f"{v.name} v{v.version} ({v.kind}): {v.rows} rows, sha256 {v.content_hash[:16]}…, "
            f"id {v.id}")


TENANT = typer.Option("default", "--tenant")
AS_JSON = typer.Option(False, "--json")


@app.command("list")
def list_datasets(tenant: str = TENANT, as_json: bool = AS_JSON) -> None:
    """The tenant's datasets with their latest versions."""
    found = _store().list(_context(tenant))
    if as_json:
        print(json.dumps(found, indent=2))
        return
    if not found:
        print("no datasets yet: `cerebra datasets import FILE --name N` or `curate N "
              "--from-signals`")
        return
    table = Table("name", "kind", "task", "version", "rows", "sha256")
    for d in found:
        table.add_row(d["name"], d["kind"], d["task"] or "", str(d["latest_version"]),
                      str(d["rows"]), d["content_hash"][:16])
    out.print(table)


@app.command("show")
def show(name: str, tenant: str = TENANT, as_json: bool = AS_JSON) -> None:
    """Every version of a dataset: hash, rows, parent, what curation did."""
    versions = _store().versions(_context(tenant), name)
    if as_json:
        print(json.dumps([v.to_dict() for v in versions], indent=2))
        return
    table = Table("version", "rows", "sha256", "parent", "made by")
    for v in versions:
        made = "curation" if "curation" in v.report else "import" if "import" in v.report \
            else "code"
        table.add_row(str(v.version), str(v.rows), v.content_hash[:16],
                      (v.parent_id or "")[:12], made)
    out.print(table)


@app.command("import")
def import_file(
    path: Path = typer.Argument(..., help="a JSONL file (OpenAI chat/DPO or TRL rows)"),
    name: str = typer.Option(..., "--name", help="the dataset (a new version of it)"),
    fmt: ImportFormat = typer.Option(ImportFormat.auto, "--format"),
    kind: Kind = typer.Option(None, "--kind", help="default: the first row's kind"),
    task: str = typer.Option(None, "--task"),
    skip_invalid: bool = typer.Option(False, "--skip-invalid",
                                      help="import the good rows, report the bad lines"),
    tenant: str = TENANT,
) -> None:
    """Import a JSONL file as the dataset's next version (a bad line refuses the file)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {path}: {exc}", field="path") from None
    version, rejected = _store().import_jsonl(
        _context(tenant), name, text, fmt=fmt.value, kind=kind.value if kind else None,
        skip_invalid=skip_invalid, task=task)
    for error in rejected:
        print(f"skipped line {error.line}: {error.problem}", file=sys.stderr)
    print(_summary(version))


@app.command("export")
def export(
    name: str,
    fmt: ExportFormat = typer.Option(ExportFormat.openai, "--format"),
    version: int = typer.Option(None, "--version", min=1),
    conversational: bool = typer.Option(False, "--conversational",
                                        help="trl: message lists instead of strings"),
    meta: bool = typer.Option(False, "--meta", help="keep source, trace_id and task keys"),
    out_path: Path = typer.Option(None, "--out", help="a file (default: standard output)"),
    tenant: str = TENANT,
) -> None:
    """A version (the latest, or --version) as JSONL in OpenAI's or TRL's format."""
    text = _store().export_jsonl(_context(tenant), name, version=version, fmt=fmt.value,
                                 conversational=conversational, meta=meta)
    if out_path is None:
        sys.stdout.write(text)
        return
    out_path.write_text(text, encoding="utf-8")
    print(f"{text.count(chr(10))} rows written to {out_path}", file=sys.stderr)


@app.command("curate")
def curate(
    name: str,
    version: int = typer.Option(None, "--version", min=1, help="default: the latest"),
    from_signals: bool = typer.Option(False, "--from-signals",
                                      help="rows from the tenant's signals, not a version"),
    task: str = typer.Option(None, "--task"),
    kind: Kind = typer.Option(None, "--kind", help="from signals: sft (default) or dpo"),
    pii: PiiMode = typer.Option(PiiMode.scrub, "--pii"),
    near_dup: float = typer.Option(0.95, "--near-dup", min=0.5, max=1.0,
                                   help="cosine threshold of near duplicates"),
    no_near_dup: bool = typer.Option(False, "--no-near-dup",
                                     help="skip near duplicates (no embedder loaded)"),
    ngram: int = typer.Option(8, "--ngram", min=4, max=20),
    balance_by: str = typer.Option(None, "--balance-by", help="task, source or label"),
    cap: int = typer.Option(None, "--cap", min=1),
    max_rows: int = typer.Option(None, "--max-rows", min=1),
    seed: int = typer.Option(0, "--seed", min=0),
    tenant: str = TENANT,
    as_json: bool = AS_JSON,
) -> None:
    """Curate into the dataset's next version and print what each step removed."""
    from cerebra.improve.curation import CurationOptions

    if balance_by not in (None, "task", "source", "label"):
        raise InvalidInput("--balance-by is task, source or label", field="balance_by")
    options = CurationOptions(pii=pii.value, ngram=ngram,
                              near_dup_threshold=None if no_near_dup else near_dup,
                              balance_by=balance_by, cap=cap,  # type: ignore[arg-type]
                              max_rows=max_rows, seed=seed)
    embedder = None
    if not no_near_dup:
        from cerebra.memory.configured import load_embedder

        embedder = load_embedder()
    made = _store().curate(_context(tenant), name, version=version, from_signals=from_signals,
                           task=task, kind=kind.value if kind else None, embedder=embedder,
                           options=options)
    if as_json:
        print(json.dumps(made.to_dict(), indent=2))
        return
    report = made.report["curation"]
    for step in report["steps"]:
        reasons = ", ".join(f"{k} {v}" for k, v in step.get("reasons", {}).items())
        print(f"{step['step']:>18}: {step['in']} in, {step['removed']} removed"
              + (f" ({reasons})" if reasons else ""))
    if report["pii"]:
        print(f"{'pii found':>18}: " + ", ".join(f"{k} {v}" for k, v in report["pii"].items()))
    print(_summary(made))


@app.command("delete")
def delete(name: str, tenant: str = TENANT) -> None:
    """Forget a dataset with every version and row of it."""
    print(f"deleted {name}: {_store().delete(_context(tenant), name)} versions")

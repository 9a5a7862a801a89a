"""Operational commands: models list, config show | sign | verify, db upgrade, doctor."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from cerebra.config import Settings, get_settings
from cerebra.errors import CerebraError, InvalidInput

out = Console()
models_app = typer.Typer(help="The model catalog.", no_args_is_help=True)
config_app = typer.Typer(help="Settings.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


def _configured_models() -> list[dict[str, str | int | bool]]:
    """The embedded model and the catalog entries, as configured (nothing is loaded)."""
    import yaml

    from cerebra.models.catalog import Catalog
    from cerebra.models.registry import ModelRegistry

    s = get_settings()
    rows: list[dict[str, str | int | bool]] = []
    if s.model.embedded:
        rows.append(
            {
                "name": s.model.name,
                "backend": "fake" if s.model.fake else "llamacpp",
                "where": str(s.model.path or s.models_dir / "gemma-3-270m-q4_k_m.gguf"),
                "context": s.model.n_ctx,
                "source": "embedded",
            }
        )
    rows += _instruct_rows(s)
    catalog = Catalog(ModelRegistry())
    sources: list[tuple[str, str, Path | None]] = []
    if s.catalog.file is not None:
        try:
            text = s.catalog.file.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(
                f"cannot read {s.catalog.file}: {exc.strerror}", field="models_file"
            ) from exc
        sources.append((str(s.catalog.file), text, s.catalog.file.parent))
    if s.catalog.inline:
        sources.append(("env", s.catalog.inline, None))
    for source, text, base in sources:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InvalidInput(f"{source}: invalid YAML: {exc}", field="models") from exc
        entries, errors, _ = catalog.parse(data, source, base)
        for entry in entries:
            rows.append(
                {
                    "name": entry.name,
                    "backend": entry.kind,
                    "where": str(entry.path or entry.base_url or ""),
                    "context": entry.context_length or 0,
                    "source": source,
                }
            )
        for error in errors:
            rows.append(
                {
                    "name": error.name,
                    "backend": "refused",
                    "where": error.message,
                    "context": 0,
                    "source": source,
                }
            )
    if s.router.strategy:
        rows.append(
            {
                "name": s.router.name,
                "backend": f"router ({s.router.strategy})",
                "where": "every other model",
                "context": 0,
                "source": "settings",
            }
        )
    return rows


def _instruct_rows(s: Settings) -> list[dict[str, str | int | bool]]:
    """SmolLM2 beside the embedded model (cerebra.models.instruct), or why it cannot be."""
    from cerebra.models.instruct import INSTRUCT_NAME, SOURCE, instruct_entry

    try:
        entry = instruct_entry(s)
    except CerebraError as exc:
        return [{"name": INSTRUCT_NAME, "backend": "refused", "where": exc.message,
                 "context": 0, "source": SOURCE}]
    if entry is None:
        return []
    return [{"name": entry.name, "backend": f"{entry.kind} (chat template)",
             "where": str(entry.path), "context": entry.context_length or 0, "source": SOURCE}]


@models_app.command("list")
def models_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """Configured models: the embedded one and the catalog (loads nothing)."""
    rows = _configured_models()
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table("name", "backend", "where", "context", "source")
    for r in rows:
        table.add_row(*(str(r[k]) for k in ("name", "backend", "where", "context", "source")))
    out.print(table)


@config_app.command("show")
def config_show(
    as_json: bool = typer.Option(False, "--json", help="effective values, grouped, as JSON"),
    markdown: bool = typer.Option(
        False, "--markdown", help="every setting documented: names, type, default (no values)"
    ),
) -> None:
    """Effective settings, secrets masked; --markdown documents every setting instead."""
    if markdown:
        from cerebra.config_doc import markdown_table

        print(markdown_table(), end="")
        return
    from cerebra.config_doc import env_values

    settings = get_settings()
    if as_json:
        print(json.dumps(settings.masked(), indent=2, default=str))
        return
    table = Table("setting", "value")
    for env, value in env_values(settings):
        table.add_row(env, "" if value is None else str(value))
    out.print(table)


@config_app.command("sign")
def config_sign() -> None:
    """Print the signature of the effective settings (set it as CEREBRA_CONFIG_SIGNATURE)."""
    from cerebra.governance.config_signature import sign

    print(sign(get_settings()))


@config_app.command("verify")
def config_verify() -> None:
    """Check the effective settings against CEREBRA_CONFIG_SIGNATURE (exit 2 on mismatch)."""
    from cerebra.governance.config_signature import verify

    if not verify(get_settings()):
        raise InvalidInput("CEREBRA_CONFIG_SIGNATURE is not set", field="config_signature")
    print("config signature ok")


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from cerebra.db.engine import make_engine
    from cerebra.db.migrate import current_revision, upgrade

    settings = get_settings()
    settings.ensure_home()
    engine = make_engine(settings.db_url)
    upgrade(engine, revision)
    print(f"database at revision {current_revision(engine)}")


def doctor() -> None:
    """Check the model file and its hash, the embedder, the database and migrations."""
    from cerebra.doctor import run_checks

    checks = run_checks(get_settings())
    for c in checks:
        mark = "[green]ok[/green]  " if c.ok else "[red]FAIL[/red]"
        out.print(f"{mark} {c.name}: {c.detail}", highlight=False, soft_wrap=True)
        if not c.ok and c.fix:
            out.print(f"      fix: {c.fix}", highlight=False, soft_wrap=True)
    failed = [c.name for c in checks if not c.ok]
    if failed:
        out.print(f"[red]{len(failed)} problem(s): {', '.join(failed)}[/red]")
        raise typer.Exit(1)
    out.print("[green]all checks passed[/green]")


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
    app.add_typer(config_app, name="config")
    app.add_typer(db_app, name="db")
    app.command("doctor")(doctor)

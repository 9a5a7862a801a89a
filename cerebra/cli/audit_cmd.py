"""`cerebra audit …`: verify the audit chains (the database's or a JSON-lines file's), export
them with their checkpoints, print the checkpoint public key. Works on the local database
with the server stopped; before verifying or exporting the database, events journalled by a
server that died are replayed into it (what its start-up would do)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from cerebra.config import get_settings
from cerebra.errors import CerebraError

app = typer.Typer(help="The tamper-evident audit log: verify, export.", no_args_is_help=True)


def _database(recover: bool) -> Any:
    """The database sink over the configured database, journals of dead servers replayed."""
    from cerebra.db.engine import make_engine
    from cerebra.db.migrate import upgrade
    from cerebra.governance.audit_setup import build_audit_log
    from cerebra.governance.audit_sinks import DatabaseAuditSink

    settings = get_settings()
    settings.ensure_home()
    engine = make_engine(settings.db_url)
    upgrade(engine)
    if recover:
        audit = build_audit_log(settings, engine)  # replays on start, as a server would
        if not audit.flush(60):
            raise CerebraError("the database refused the journalled audit events; "
                               "they stay in the journal")
        audit.close()
    return DatabaseAuditSink(engine)


def _source(file: Path | None, recover: bool) -> Any:
    if file is None:
        return _database(recover)
    from cerebra.governance.audit_jsonl import JsonlChainSource

    if not file.exists():
        raise CerebraError(f"no such file: {file}")
    return JsonlChainSource(file)


@app.command("verify")
def verify(
    file: Path = typer.Option(None, "--file", help="a JSON-lines audit file or export "
                              "instead of the database"),
    tenant: str = typer.Option(None, "--tenant", help="only this tenant's chain"),
    public_key: str = typer.Option(None, "--public-key", help="the key checkpoints must be "
                                   "signed with (hex); default: audit.public_key or the "
                                   "signing key's"),
    recover: bool = typer.Option(True, "--recover/--no-recover", help="first replay the "
                                 "journals of servers that died"),
) -> int:
    """Check every chain; exit 1 naming the first bad entry of each broken chain."""
    from cerebra.governance.audit_setup import trusted_keys
    from cerebra.governance.audit_verify import verify_source

    source = _source(file, recover)
    keys = [public_key.strip().lower()] if public_key else trusted_keys(get_settings())
    reports = verify_source(source, keys, tenant)
    bad = [r for r in reports if not r.ok]
    for report in bad:
        print(f"TAMPERED: {report.problem}")
    entries = sum(r.entries for r in reports)
    checkpoints = sum(r.checkpoints for r in reports)
    unreadable = getattr(source, "unreadable", [])
    if unreadable:
        print(f"note: {len(unreadable)} unreadable line(s) skipped: {unreadable[:10]}",
              file=sys.stderr)
    if bad:
        return 1
    if len(reports) == 1:
        r = reports[0]
        print(f"ok: {r.entries} entries, {r.checkpoints} checkpoints, head {r.head_hash} "
              f"(tenant {r.tenant_id})")
    else:
        print(f"ok: {entries} entries, {checkpoints} checkpoints in {len(reports)} chains")
        for r in reports:
            print(f"  {r.tenant_id}: {r.entries} entries, {r.checkpoints} checkpoints, "
                  f"head {r.head_hash}")
    if keys:
        print(f"checkpoint key: {keys[0]}")
    return 0


@app.command("export")
def export(
    tenant: str = typer.Option(None, "--tenant", help="only this tenant's chain"),
    out: Path = typer.Option(None, "--out", help="write here (default: standard output)"),
    file: Path = typer.Option(None, "--file", help="export from a JSON-lines audit file"),
    recover: bool = typer.Option(True, "--recover/--no-recover"),
) -> None:
    """The chains as JSON lines: a "chain" line (the head), entries, checkpoints."""
    from cerebra.governance.audit import canonical
    from cerebra.governance.audit_verify import export_lines

    source = _source(file, recover)
    sink = open(out, "w", encoding="utf-8") if out is not None else sys.stdout  # noqa: SIM115
    count = 0
    try:
        for record in export_lines(source, tenant):
            sink.write(canonical(record) + "\n")
            count += record["type"] == "entry"
    finally:
        if out is not None:
            sink.close()
    if out is not None:
        print(f"exported {count} entries to {out}", file=sys.stderr)


@app.command("key")
def key(as_json: bool = typer.Option(False, "--json")) -> None:
    """The public key checkpoints are signed with (made with the signing key if missing)."""
    from cerebra.governance.audit_setup import key_path, signer_from_settings

    settings = get_settings()
    settings.ensure_home()
    public = signer_from_settings(settings).public_key
    where = "setting audit.signing_key" if settings.audit.signing_key else str(key_path(settings))
    if as_json:
        print(json.dumps({"public_key": public, "signing_key": where}))
    else:
        print(public)

"""`cerebra constitution …`: make a signing key, sign a constitution, verify it, activate it
as a new version (kept under <home>/constitutions), and show the one in force."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer

from cerebra.config import get_settings
from cerebra.errors import CerebraError

app = typer.Typer(help="The signed constitution: keygen, sign, verify, activate, show.",
                  no_args_is_help=True)


def _trusted() -> list[str] | None:
    keys = list(get_settings().policy.trusted_keys)
    return keys or None


@app.command("keygen")
def keygen(
    out: Path = typer.Option(..., "--out", help="file to write the private key to (mode 600)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Make an Ed25519 key pair: the private key goes to --out, the public key is printed
    (add it to policy.trusted_keys)."""
    from cerebra.governance.constitution import generate_keypair

    if out.exists():
        raise CerebraError(f"{out} exists; refusing to overwrite a key", field="out")
    private, public = generate_keypair()
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(private + "\n")
    out.with_name(out.name + ".pub").write_text(public + "\n", encoding="ascii")
    if as_json:
        print(json.dumps({"key_file": str(out), "public_key": public}))
    else:
        print(f"private key: {out}\npublic key:  {public}")


@app.command("sign")
def sign(
    file: Path = typer.Argument(..., help="the constitution (YAML)"),
    key: Path = typer.Option(..., "--key", help="private key file (from `keygen`)"),
) -> None:
    """Sign FILE: writes FILE.sig (its SHA3-512 hash, the public key, the signature)."""
    from cerebra.governance.constitution import load, public_key_of
    from cerebra.governance.constitution import sign as sign_file

    written = sign_file(file, key)
    print(f"signed {file}: {load(file).hash}\nsignature: {written}\nsigner: {public_key_of(key)}")


@app.command("verify")
def verify(
    file: Path = typer.Argument(..., help="the constitution (YAML)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Check FILE against FILE.sig (and the signer against policy.trusted_keys when set)."""
    from cerebra.governance.constitution import verify as verify_file

    loaded = verify_file(file, _trusted(), require_signature=True)
    if as_json:
        print(json.dumps({"ok": True, "hash": loaded.hash, "signer": loaded.signer}))
    else:
        print(f"ok: {file} {loaded.hash}\nsigned by {loaded.signer}")


@app.command("activate")
def activate(file: Path = typer.Argument(..., help="the constitution (YAML)")) -> None:
    """Keep FILE as a new version and mark it active (a bad signature is refused; so is a
    missing one when policy.require_signature is on). Servers read it at their next start."""
    from cerebra.governance.versions import VersionStore

    settings = get_settings()
    if settings.policy.require_signature and not settings.policy.trusted_keys:
        raise CerebraError("policy.require_signature is on but policy.trusted_keys is empty")
    store = VersionStore(settings.home / "constitutions")
    entry = store.activate(file, require_signature=settings.policy.require_signature,
                           trusted_keys=_trusted())
    print(f"active: version {entry['version']} {entry['hash']}")
    if settings.policy.constitution is not None:
        print(f"note: policy.constitution ({settings.policy.constitution}) is set and wins "
              "over the active version")


@app.command("show")
def show(as_json: bool = typer.Option(False, "--json")) -> None:
    """The constitution in force: its source, version, hash, signer and rules."""
    from cerebra.governance.constitution import ConstitutionError, load, verify_loaded
    from cerebra.governance.constitution import read_signature as read_sig
    from cerebra.governance.versions import VersionStore

    settings = get_settings()
    store = VersionStore(settings.home / "constitutions")
    entry = store.active()
    path = settings.policy.constitution or store.active_path()
    if path is None:
        print(json.dumps({"active": None}) if as_json else "no constitution is active")
        return
    loaded = load(path)
    envelope = read_sig(path)
    signature = "none"
    if envelope is not None:
        try:
            loaded = verify_loaded(loaded, envelope, _trusted())
            signature = "valid"
        except ConstitutionError as exc:
            signature = f"invalid: {exc.message}"
    info: dict[str, Any] = {
        "source": str(path),
        "version": entry["version"] if entry and settings.policy.constitution is None else None,
        "hash": loaded.hash, "signer": loaded.signer, "signature": signature,
        "rules": loaded.doc.summary(), "versions": len(store.versions()),
    }
    if as_json:
        print(json.dumps(info))
        return
    print(f"source:    {info['source']}" + (f" (version {info['version']})"
                                             if info["version"] else ""))
    print(f"hash:      {info['hash']}")
    print(f"signer:    {info['signer'] or '-'} (signature {signature})")
    for name, value in info["rules"].items():
        print(f"{name + ':':<18}{value}")

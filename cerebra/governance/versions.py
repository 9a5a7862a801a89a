"""Constitution versions under `<home>/constitutions/`: every activated document is kept (with
its signature), numbered, and one is marked active; the process-wide active hash is what the
audit log stamps on every event (`active_constitution_hash()`).

Layout: `v0001-<hash prefix>.yaml` (+ `.yaml.sig`) per version and `index.json`
(`{"active": n, "versions": [{"version", "hash", "signer", "file", "name", "activated_at"}]}`),
rewritten atomically (a temporary file renamed over it).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from cerebra.governance.constitution import (
    ConstitutionError,
    Loaded,
    load,
    read_signature,
    signature_path,
    verify,
    verify_loaded,
)

_ACTIVE_HASH: str | None = None


def set_active_hash(value: str | None) -> None:
    """Record the hash of the constitution this process enforces (the policy guard does)."""
    global _ACTIVE_HASH
    _ACTIVE_HASH = value


def active_constitution_hash() -> str | None:
    """The `sha3-512:<hex>` of the constitution in force in this process, or None."""
    return _ACTIVE_HASH


class VersionStore:
    """The versions kept under one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.index_path = folder / "index.json"

    def index(self) -> dict[str, Any]:
        if not self.index_path.exists():
            return {"active": None, "versions": []}
        try:
            data = json.loads(self.index_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConstitutionError(f"{self.index_path} does not parse: {exc}") from None
        return data if isinstance(data, dict) else {"active": None, "versions": []}

    def _write(self, index: dict[str, Any]) -> None:
        tmp = self.index_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.index_path)

    def versions(self) -> list[dict[str, Any]]:
        return list(self.index().get("versions", []))

    def active(self) -> dict[str, Any] | None:
        index = self.index()
        for entry in index.get("versions", []):
            if entry.get("version") == index.get("active"):
                return dict(entry)
        return None

    def active_path(self) -> Path | None:
        entry = self.active()
        return None if entry is None else self.folder / entry["file"]

    def activate(self, path: Path, *, require_signature: bool,
                 trusted_keys: list[str] | None) -> dict[str, Any]:
        """Verify `path` (a bad signature is always refused; a missing one when required),
        keep a copy as a new version (or reuse the version with the same hash) and mark it
        active. Returns the version's entry."""
        loaded = verify(path, trusted_keys, require_signature=require_signature)
        self.folder.mkdir(parents=True, exist_ok=True)
        index = self.index()
        versions: list[dict[str, Any]] = index.setdefault("versions", [])
        entry = next((v for v in versions if v.get("hash") == loaded.hash), None)
        if entry is None:
            number = max((int(v["version"]) for v in versions), default=0) + 1
            name = f"v{number:04d}-{loaded.digest.hex()[:12]}.yaml"
            shutil.copyfile(path, self.folder / name)
            if signature_path(path).exists():
                shutil.copyfile(signature_path(path), signature_path(self.folder / name))
            entry = {"version": number, "hash": loaded.hash, "signer": loaded.signer,
                     "file": name, "name": loaded.doc.name}
            versions.append(entry)
        entry["activated_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        index["active"] = entry["version"]
        self._write(index)
        return dict(entry)


def load_configured(path: Path | None, home: Path, *, require_signature: bool,
                    trusted_keys: list[str]) -> Loaded | None:
    """The constitution to enforce at start-up: the configured file, else the active version
    under `<home>/constitutions`, else None. Its signature is checked: a bad one (or one by
    an untrusted key) is refused when signatures are required, and so is a missing one;
    when they are not, a present signature must still verify."""
    if path is None:
        path = VersionStore(home / "constitutions").active_path()
        if path is None:
            return None
    if require_signature and not trusted_keys:
        raise ConstitutionError("policy.require_signature is on but policy.trusted_keys is "
                                "empty: no signer could be trusted")
    if not path.exists():
        raise ConstitutionError(f"constitution {path} does not exist")
    envelope = read_signature(path)
    if envelope is None:
        if require_signature:
            raise ConstitutionError(f"{path}: no signature and signatures are required "
                                    "(policy.require_signature)")
        return load(path)
    return verify_loaded(load(path), envelope, trusted_keys or None)

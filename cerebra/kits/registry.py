"""Which kits exist and installing more: the built-in kits shipped in cerebra/kits/builtin/,
kits installed as folders under `<home>/kits/<name>/` (shared) or
`<home>/kits/.tenants/<tenant>/<name>/` (installed by one tenant through the API, visible to
that tenant only), and kits named by an entry point in the group "cerebra.kits".

`install(source)` validates the kit before anything is written, copies only the kit's own
files (kit.yaml, train.jsonl, eval.jsonl, checker.py; regular files, never links) into a
temporary folder beside the target and renames it into place, so a bad kit is refused
naming the problem and nothing is ever half-installed. `eval_texts()` gathers every known
kit's held-out inputs and references, for decontaminating training data.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import tempfile
from functools import lru_cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from cerebra.errors import Conflict, InvalidInput, NotFound
from cerebra.kits.kit import KIT_FILES, NAME_PATTERN, Kit, KitError, load_kit

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "cerebra.kits"
BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"
_TENANTS = ".tenants"


def kits_dir(home: Path | None = None) -> Path:
    """Where shared installed kits live: `<home>/kits`."""
    if home is None:
        from cerebra.config import get_settings
        home = get_settings().home
    return Path(home) / "kits"


def tenant_dir(home: Path | None, tenant: str) -> Path:
    safe = tenant if re.fullmatch(r"[A-Za-z0-9_-]{1,64}", tenant) else \
        "t-" + hashlib.sha256(tenant.encode()).hexdigest()[:32]
    return kits_dir(home) / _TENANTS / safe


def cached_kit(folder: Path) -> Kit:
    """load_kit, remembered until one of the folder's kit files changes."""
    stamp = tuple((name, p.stat().st_mtime_ns, p.stat().st_size)
                  for name in KIT_FILES if (p := folder / name).is_file())
    return _load(str(folder.resolve()), stamp)


@lru_cache(maxsize=64)
def _load(folder: str, stamp: tuple[Any, ...]) -> Kit:
    return load_kit(folder)


def _folders(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and (p / "kit.yaml").is_file())


def _load_all(root: Path) -> list[Kit]:
    kits = []
    for folder in _folders(root):
        try:
            kits.append(cached_kit(folder))
        except KitError as exc:  # a kit edited in place into a broken state: skip it
            log.warning("skipping the kit in %s: %s", folder, exc.message)
    return kits


def builtin_kits() -> list[Kit]:
    return _load_all(BUILTIN_DIR)


def installed_kits(home: Path | None = None, *, tenant: str | None = None) -> list[Kit]:
    """Shared installed kits, then (with `tenant`) that tenant's own."""
    kits = _load_all(kits_dir(home))
    if tenant is not None:
        kits += _load_all(tenant_dir(home, tenant))
    return kits


def known_kits(home: Path | None = None, *,
               tenant: str | None = None) -> list[tuple[Kit, str]]:
    """Every kit a caller can use, with where it comes from ("builtin" | "installed" |
    "tenant"); an installed kit shadows a built-in of the same name, a tenant's kit both."""
    found: dict[str, tuple[Kit, str]] = {}
    for kit in builtin_kits():
        found[kit.name] = (kit, "builtin")
    for kit in _load_all(kits_dir(home)):
        found[kit.name] = (kit, "installed")
    if tenant is not None:
        for kit in _load_all(tenant_dir(home, tenant)):
            found[kit.name] = (kit, "tenant")
    return sorted(found.values(), key=lambda pair: pair[0].name)


def get_kit(name: str, home: Path | None = None, *, tenant: str | None = None) -> Kit:
    for kit, _ in known_kits(home, tenant=tenant):
        if kit.name == name:
            return kit
    raise NotFound(f"no kit named {name!r}", field="name")


def eval_texts(home: Path | None = None, *, tenant: str | None = None) -> list[str]:
    """Every known kit's held-out inputs and references (for decontamination). With no
    tenant, every tenant's installed kits count too: leaking nothing is the safe side."""
    kits = [kit for kit, _ in known_kits(home, tenant=tenant)]
    if tenant is None:
        tenants = kits_dir(home) / _TENANTS
        for folder in sorted(tenants.iterdir()) if tenants.is_dir() else []:
            kits += _load_all(folder)
    texts: list[str] = []
    for kit in kits:
        texts.extend(kit.texts())
    return texts


def resolve_source(source: str, *, paths: bool = True) -> Kit | Path:
    """A path (unless `paths` is off), or the name of an entry point in "cerebra.kits" whose
    object is a kit folder (path or text), a Kit, or a callable giving either."""
    path = Path(source).expanduser()
    if paths and path.exists():
        return path
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", source):
        raise NotFound(f"no kit folder at {source!r}", field="source")
    matches = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == source]
    if not matches:
        raise NotFound(f"{source!r} is neither a kit folder nor an entry point in the group "
                       f"{ENTRY_POINT_GROUP!r}", field="source")
    try:
        obj = matches[0].load()
    except Exception as exc:  # a plugin's import can fail any way
        raise InvalidInput(f"the entry point {source!r} does not load: {exc}",
                           field="source") from None
    if callable(obj) and not isinstance(obj, Kit):
        obj = obj()
    if isinstance(obj, Kit):
        return obj
    if isinstance(obj, str | Path):
        return Path(obj)
    raise InvalidInput(f"the entry point {source!r} gives a {type(obj).__name__}, not a kit "
                       "folder or a Kit", field="source")


def install(source: str | Path | Kit, home: Path | None = None, *,
            tenant: str | None = None, replace: bool = False,
            allow_paths: bool = True) -> Kit:
    """Validate, then install atomically; returns the installed kit. A kit whose name is
    taken (a built-in, or installed already without `replace`) is a Conflict. Text is a
    path or an entry point name (only an entry point name with `allow_paths` off)."""
    resolved = resolve_source(source, paths=allow_paths) if isinstance(source, str) \
        else source
    kit = resolved if isinstance(resolved, Kit) else load_kit(resolved)  # validate first
    if not re.fullmatch(NAME_PATTERN, kit.name):
        raise KitError(f"bad kit name {kit.name!r}", field="name")
    if any(k.name == kit.name for k in builtin_kits()):
        raise Conflict(f"{kit.name!r} is the name of a built-in kit", field="name")
    root = kits_dir(home) if tenant is None else tenant_dir(home, tenant)
    root.mkdir(parents=True, exist_ok=True)
    target = root / kit.name
    if target.exists() and not replace:
        raise Conflict(f"a kit named {kit.name!r} is installed already", field="name")
    staging = Path(tempfile.mkdtemp(prefix=f".install-{kit.name}-", dir=root))
    old: Path | None = None
    try:
        if isinstance(resolved, Kit):
            resolved.write(staging)
        else:
            _copy_files(Path(resolved), staging)
        installed = load_kit(staging)  # what was copied still validates, the same
        if installed.content_hash != kit.content_hash and not isinstance(resolved, Kit):
            raise KitError(f"the kit at {resolved} changed while it was installed",
                           field="source")
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".old-{kit.name}-", dir=root))
            target.rename(old / "kit")
        try:
            staging.rename(target)
        except OSError:  # another install of this name won the race
            raise Conflict(f"a kit named {kit.name!r} was installed meanwhile",
                           field="name") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if old is not None and not target.exists():
            (old / "kit").rename(target)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return cached_kit(target)


def uninstall(name: str, home: Path | None = None, *, tenant: str | None = None) -> None:
    root = kits_dir(home) if tenant is None else tenant_dir(home, tenant)
    target = root / name
    if not re.fullmatch(NAME_PATTERN, name) or not (target / "kit.yaml").is_file():
        raise NotFound(f"no installed kit named {name!r}", field="name")
    trash = Path(tempfile.mkdtemp(prefix=f".remove-{name}-", dir=root))
    target.rename(trash / "kit")
    shutil.rmtree(trash, ignore_errors=True)


def _copy_files(source: Path, staging: Path) -> None:
    for name in KIT_FILES:
        src = source / name
        if src.is_symlink():
            raise KitError(f"{src}: a link; a kit's files must be regular files", field=name)
        if src.is_file():
            shutil.copyfile(src, staging / name)

"""Finding and importing plugins: the plugins folder and the `cerebra.plugins` entry points,
each plugin's metadata (validated), and a fingerprint of its files for reloads.

Layout of the plugins folder (one plugin per name starting with `cerebra_`):

    plugins/
      cerebra_hello.py            a single-file plugin named "cerebra_hello"
      cerebra_hello.meta.json     its metadata (optional)
      cerebra_tools/              a package plugin named "cerebra_tools"
        __init__.py               defines register(manager)
        meta.json                 its metadata (optional)

Metadata is one JSON object per plugin — `{"sandbox": false, "priority": 0, "description":
"..."}`, every key optional, no others allowed — so a broken file (bad JSON, an unknown key,
a wrong type) is reported against that plugin alone, which is skipped; the others load. An
entry-point plugin gives the same object as a `PLUGIN_META` attribute of what it loads.

Plugins register in priority order: higher `priority` first, then by name; a sandboxed
plugin is imported and listed but never registered. A plugin's fingerprint is the SHA-256 of
its files' contents (and its metadata's), so a reload re-imports exactly what changed.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import importlib.metadata
import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cerebra.errors import CerebraError

GROUP = "cerebra.plugins"
PREFIX = "cerebra_"


class PluginError(CerebraError):
    """A plugin could not be found, read, imported or registered (the reason says which)."""

    status_code = 422
    code = "plugin_error"


class PluginMeta(BaseModel):
    """What a plugin says about itself; every key optional."""

    model_config = ConfigDict(extra="forbid", strict=True)
    sandbox: bool = Field(default=False, description="load and list it, never register it")
    priority: int = Field(default=0, ge=-10_000, le=10_000,
                          description="higher registers first")
    description: str = Field(default="", max_length=2_000)


def parse_meta(raw: Any, where: str) -> PluginMeta:
    """`raw` (decoded JSON or a dict) as PluginMeta; PluginError names what is wrong."""
    try:
        return PluginMeta.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'meta'}: {e['msg']}" for e in exc.errors())
        raise PluginError(f"{where}: {problems}", field="meta") from None


@dataclass(frozen=True)
class Source:
    """A plugin found but not imported: where it lives and what identifies its version."""

    name: str
    kind: Literal["folder", "entry_point"]
    origin: str  # the file or folder, or the entry point's `module:attr`
    path: Path | None = None  # folder plugins: the .py file or the package folder
    entry_point: importlib.metadata.EntryPoint | None = None

    @property
    def meta_path(self) -> Path | None:
        if self.path is None:
            return None
        if self.path.is_dir():
            return self.path / "meta.json"
        return self.path.with_name(self.path.stem + ".meta.json")

    def files(self) -> list[Path]:
        """The files whose contents make this version of the plugin."""
        if self.path is not None:
            if self.path.is_dir():
                found = [p for p in sorted(self.path.rglob("*"))
                         if p.is_file() and "__pycache__" not in p.parts
                         and p.suffix in (".py", ".json")]
            else:
                found = [self.path]
            meta = self.meta_path
            return found + ([meta] if meta is not None and meta.is_file() and
                            meta not in found else [])
        return [p for p in [_module_file(self)] if p is not None]

    def fingerprint(self) -> str:
        digest = hashlib.sha256(self.origin.encode())
        for path in self.files():
            digest.update(str(path).encode() + b"\0")
            try:
                digest.update(path.read_bytes())
            except OSError:
                digest.update(b"<unreadable>")
        return digest.hexdigest()

    def read_meta(self) -> PluginMeta | None:
        """The folder metadata file's contents (None when there is none)."""
        meta = self.meta_path
        if meta is None or not meta.is_file():
            return None
        try:
            raw = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PluginError(f"{meta.name}: not valid JSON ({exc})", field="meta") from None
        return parse_meta(raw, meta.name)


def _module_file(source: Source) -> Path | None:
    """The source file of an entry point's module, found without importing it."""
    if source.entry_point is None:
        return None
    try:
        spec = importlib.util.find_spec(source.entry_point.module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.has_location:
        return None
    return Path(spec.origin)


def folder_sources(folder: Path) -> list[Source]:
    """The plugins of `folder`: `cerebra_*.py` files and `cerebra_*/` packages."""
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.iterdir()):
        if not path.name.startswith(PREFIX):
            continue
        if path.is_file() and path.suffix == ".py" and path.stem.isidentifier():
            out.append(Source(path.stem, "folder", str(path), path=path))
        elif path.is_dir() and path.name.isidentifier() and (path / "__init__.py").is_file():
            out.append(Source(path.name, "folder", str(path), path=path))
    return out


def entry_point_sources() -> list[Source]:
    """The installed `cerebra.plugins` entry points (sys.path as it is now)."""
    importlib.invalidate_caches()
    return [Source(ep.name, "entry_point", ep.value, entry_point=ep)
            for ep in sorted(importlib.metadata.entry_points(group=GROUP), key=lambda e: e.name)]


class _FreshLoader(importlib.machinery.SourceFileLoader):
    """Compiles the plugin's file from its source every time: a bytecode cache keyed by
    mtime and size could hand back the old code of a file edited within the same second."""

    def get_code(self, fullname: str) -> Any:
        path = self.get_filename(fullname)
        return compile(self.get_data(path), path, "exec", dont_inherit=True)


def purge(name: str) -> None:
    """Forget module `name` and its submodules, so the next import runs them anew."""
    for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
        del sys.modules[key]


def import_source(source: Source) -> Any:
    """Import the plugin (anew): a folder plugin as module `name`, an entry point by loading
    it (its module reloaded when already imported). Raises what the plugin's code raises."""
    if source.entry_point is not None:
        module_name = source.entry_point.module
        if module_name in sys.modules:
            importlib.reload(sys.modules[module_name])
        return source.entry_point.load()
    assert source.path is not None
    purge(source.name)
    package = source.path.is_dir()
    file = source.path / "__init__.py" if package else source.path
    loader = _FreshLoader(source.name, str(file))
    spec = importlib.util.spec_from_file_location(
        source.name, file, loader=loader,
        submodule_search_locations=[str(source.path)] if package else None)
    if spec is None:  # pragma: no cover - a .py path always has a spec
        raise PluginError(f"cannot import {file}")
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[source.name] = module
    try:
        loader.exec_module(module)
    except BaseException:
        purge(source.name)
        raise
    return module


def object_meta(plugin: Any, name: str) -> PluginMeta | None:
    """An entry-point plugin's PLUGIN_META attribute, validated (None when absent)."""
    raw = getattr(plugin, "PLUGIN_META", None)
    return None if raw is None else parse_meta(raw, f"{name}.PLUGIN_META")

"""The model catalog: entries from a YAML file, the environment and the API, kept in a
ModelRegistry with weight verification and hot swap.

A file is either a list of entries or `{default: name, models: [...] | {name: {...}}}`.
String values may use `${VAR}` / `${VAR:-fallback}`; relative paths are resolved against the
file's folder. Entries sent over the API go through `submit`, which expands nothing, reads
them with their kind's submission model (cerebra.models.catalog_submission) and holds them
to an `EntryPolicy` (model directories, host allow-list: cerebra.models.catalog_policy); a
file they name that does not exist is 404.
The default model cannot be removed until another is made the default.

Applying a catalog hot-swaps what changed, keeps what did not (no reload),
removes what disappeared from the same source, and refuses a bad entry — unreadable,
invalid, missing file, wrong hash or signature, failing to load — with a CatalogError that
names the entry, the file and why, while every other entry keeps serving (a bad new version
of a serving model leaves the old version serving).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from cerebra.errors import CerebraError, InvalidInput, NotFound
from cerebra.models.base import ModelBackend
from cerebra.models.catalog_kinds import FACTORIES, ModelEntry, register_kind
from cerebra.models.catalog_policy import EntryPolicy, public_row
from cerebra.models.catalog_submission import validate_submission
from cerebra.models.registry import ModelRegistry
from cerebra.models.signing import WeightVerifier

log = logging.getLogger(__name__)

__all__ = ["Catalog", "CatalogError", "CatalogReport", "DefaultModelInUse", "ModelEntry",
           "register_kind"]

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class DefaultModelInUse(CerebraError):
    """Removing the default model would leave requests without a model. HTTP 409."""

    status_code = 409
    code = "default_model_in_use"


@dataclass(frozen=True)
class CatalogError:
    name: str  # the entry's name, or "#<index>" when it has none
    source: str  # the file, "env" or "api"
    message: str

    def __str__(self) -> str:
        return f"{self.source}: model {self.name}: {self.message}"


@dataclass
class CatalogReport:
    loaded: list[str] = field(default_factory=list)  # added or hot-swapped
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    errors: list[CatalogError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _interpolate(value: Any, environ: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        def sub(match: re.Match[str]) -> str:
            var, fallback = match.group(1), match.group(2)
            if var in environ:
                return environ[var]
            if fallback is not None:
                return fallback
            raise InvalidInput(f"environment variable {var} is not set", field=var)

        return _VAR.sub(sub, value)
    if isinstance(value, list):
        return [_interpolate(v, environ) for v in value]
    if isinstance(value, dict):
        return {k: _interpolate(v, environ) for k, v in value.items()}
    return value


def _is_file(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a name too long, a NUL
        return False


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        parts.append(f"{where}: {err['msg']}" if where else str(err["msg"]))
    return "; ".join(parts)


class Catalog:
    """Loads entries into `registry`; remembers each served entry and where it came from."""

    def __init__(self, registry: ModelRegistry, *, verifier: WeightVerifier | None = None,
                 environ: Mapping[str, str] | None = None,
                 policy: EntryPolicy | None = None) -> None:
        self.registry = registry
        self.verifier = verifier or WeightVerifier()
        self.environ = environ if environ is not None else os.environ
        self.policy = policy or EntryPolicy()  # for submit(); default: no file, no host
        self._entries: dict[str, tuple[ModelEntry, str]] = {}  # name → (entry, source)
        self._lock = threading.RLock()  # one catalog change at a time

    # -- parsing -------------------------------------------------------------------------

    def parse(self, data: Any, source: str, base_dir: Path | None = None, *,
              expand: bool = True) -> tuple[list[ModelEntry], list[CatalogError], str | None]:
        """Entries, per-entry errors and the declared default from a loaded document
        (`expand`: substitute `${VAR}` from the environment)."""
        default: str | None = None
        raw: list[Any]
        if data is None:
            raw = []
        elif isinstance(data, list):
            raw = data
        elif isinstance(data, dict) and set(data) <= {"models", "default"}:
            default = data.get("default")
            models = data.get("models") or []
            if isinstance(models, dict):
                raw = [{"name": k, **(v or {})} if isinstance(v, dict | type(None)) else v
                       for k, v in models.items()]
            elif isinstance(models, list):
                raw = models
            else:
                return [], [CatalogError("*", source, "`models` must be a list or a mapping")], None
        else:
            return [], [CatalogError("*", source, "a catalog is a list of models or a mapping "
                                     "with `models` (and optional `default`)")], None
        entries: list[ModelEntry] = []
        errors: list[CatalogError] = []
        seen: set[str] = set()
        for index, item in enumerate(raw):
            label = item.get("name") if isinstance(item, dict) else None
            label = str(label) if label else f"#{index}"
            try:
                if not isinstance(item, dict):
                    raise InvalidInput("an entry must be a mapping")
                entry = ModelEntry.model_validate(
                    _interpolate(item, self.environ) if expand else item)
            except ValidationError as exc:
                errors.append(CatalogError(label, source, _validation_message(exc)))
                continue
            except CerebraError as exc:
                errors.append(CatalogError(label, source, exc.message))
                continue
            if entry.name in seen:
                errors.append(CatalogError(entry.name, source, "duplicate name in this source"))
                continue
            seen.add(entry.name)
            entries.append(self._resolve_paths(entry, base_dir))
        return entries, errors, default

    @staticmethod
    def _resolve_paths(entry: ModelEntry, base_dir: Path | None) -> ModelEntry:
        def fix(path: Path | None) -> Path | None:
            if path is None:
                return None
            path = path.expanduser()
            return path if path.is_absolute() or base_dir is None else base_dir / path

        return entry.model_copy(update={"path": fix(entry.path), "lora": fix(entry.lora)})

    # -- building ------------------------------------------------------------------------

    def build(self, entry: ModelEntry) -> ModelBackend:
        """Verify the entry's weights, then construct its backend (raises CerebraError)."""
        if entry.path is not None:  # any kind with local weights
            self.verifier.verify(entry.path, sha256=entry.sha256, signature=entry.signature)
        if entry.lora is not None:
            self.verifier.verify(entry.lora, sha256=entry.lora_sha256,
                                 signature=entry.lora_signature)
        try:
            backend = FACTORIES[entry.kind](entry)
        except TypeError as exc:  # an option the backend does not take
            raise InvalidInput(f"bad options for kind {entry.kind}: {exc}",
                               field="options") from exc
        cached = None if entry.price is None else entry.price.cached_per_token()
        if cached is not None:  # the entry's cached-input price, whatever the kind
            from dataclasses import replace

            from cerebra.models.catalog_kinds import CapabilityOverride

            return CapabilityOverride(backend, replace(  # type: ignore[return-value]
                backend.capabilities, cost_per_cached_input_token=cached))
        return backend

    # -- applying ------------------------------------------------------------------------

    def apply(self, entries: Iterable[ModelEntry], source: str, *, prune: bool = True,
              default: str | None = None, errors: Iterable[CatalogError] = ()) -> CatalogReport:
        """Make the registry serve `entries` from `source` (see the module docstring)."""
        report = CatalogReport(errors=list(errors))
        entries = list(entries)
        with self._lock:
            failed = {e.name for e in report.errors}
            for entry in entries:
                if entry.enabled:
                    self._apply_one(entry, source, report)
            for name, (_, src) in list(self._entries.items()):
                gone = prune and name not in failed and name not in {e.name for e in entries}
                disabled = any(e.name == name and not e.enabled for e in entries)
                if src == source and (gone or disabled):
                    self._drop(name)
                    report.removed.append(name)
            chosen = default or next((e.name for e in entries if e.default), None)
            if chosen and chosen in self.registry:
                self.registry.set_default(chosen)
            elif chosen and chosen not in failed and chosen not in {
                    e.name for e in report.errors}:
                report.errors.append(CatalogError(chosen, source, "default model is not serving"))
        for err in report.errors:
            self.registry.record_failure(err.name, str(err))
            log.error("model catalog: %s", err)
        return report

    def _apply_one(self, entry: ModelEntry, source: str, report: CatalogReport) -> None:
        current = self._entries.get(entry.name)
        if current is not None and current[0] == entry and entry.name in self.registry:
            report.unchanged.append(entry.name)
            self.registry.clear_failure(entry.name)
            return
        try:
            backend = self.build(entry)
        except CerebraError as exc:
            report.errors.append(CatalogError(entry.name, source, exc.message))
            return
        except Exception as exc:  # a backend that fails to load in an unexpected way
            report.errors.append(CatalogError(entry.name, source, f"{type(exc).__name__}: {exc}"))
            return
        if entry.name in self.registry:
            self.registry.replace(entry.name, backend, close=True)
        else:
            self.registry.add(backend, name=entry.name, default=entry.default)
        self.registry.clear_failure(entry.name)
        self._entries[entry.name] = (entry, source)
        report.loaded.append(entry.name)

    def _drop(self, name: str) -> None:
        self._entries.pop(name, None)
        self.registry.clear_failure(name)
        if name in self.registry:
            self.registry.remove(name, close=True)

    def load_file(self, path: Path, *, prune: bool = True) -> CatalogReport:
        """Apply a YAML (or JSON) catalog file; an unreadable file changes nothing."""
        source = str(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            err = CatalogError("*", source, f"cannot read the catalog: {exc.strerror}")
            return CatalogReport(errors=[err])
        except yaml.YAMLError as exc:
            return CatalogReport(errors=[CatalogError("*", source, f"invalid YAML: {exc}")])
        entries, errors, default = self.parse(data, source, path.parent)
        return self.apply(entries, source, prune=prune, default=default, errors=errors)

    def load_text(self, text: str, source: str = "env", base_dir: Path | None = None
                  ) -> CatalogReport:
        """Apply a catalog given as YAML/JSON text (e.g. the CEREBRA_MODELS variable)."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            return CatalogReport(errors=[CatalogError("*", source, f"invalid YAML: {exc}")])
        entries, errors, default = self.parse(data, source, base_dir)
        return self.apply(entries, source, default=default, errors=errors)

    # -- the API -------------------------------------------------------------------------

    def submit(self, spec: Mapping[str, Any]) -> ModelBackend:
        """Add or hot-swap one model sent over the API: nothing expanded, the entry held to
        `policy` (raises InvalidInput / EntryRefused naming the field)."""
        if not isinstance(spec, Mapping):
            raise InvalidInput("an entry must be a mapping", field="model")
        self.policy.check_raw(spec)
        self.policy.check(self._one(spec))  # where it points first (403), then what it is
        entry = self._one(validate_submission(spec))
        for name in ("path", "lora"):  # the server's files: a state no schema states
            value = getattr(entry, name)
            if value is not None and not _is_file(value):
                raise NotFound(f"{name}: no such file in the model directories", field=name)
        return self.add(entry, source="api")

    def _one(self, spec: Mapping[str, Any]) -> ModelEntry:
        entries, errors, _ = self.parse([dict(spec)], "api", expand=False)
        if errors:
            raise InvalidInput(errors[0].message, field="model", model=errors[0].name)
        return entries[0]

    def add(self, spec: Mapping[str, Any] | ModelEntry, source: str = "api") -> ModelBackend:
        """Add or hot-swap one model (trusted: library callers; the API uses `submit`);
        raises InvalidInput / ModelVerificationError on refusal."""
        if isinstance(spec, ModelEntry):
            entry = spec
        else:
            entries, errors, _ = self.parse([dict(spec)], source)
            if errors:
                raise InvalidInput(errors[0].message, field="model", model=errors[0].name)
            entry = entries[0]
        with self._lock:
            backend = self.build(entry)
            if entry.name in self.registry:
                self.registry.replace(entry.name, backend, close=True)
                if entry.default:
                    self.registry.set_default(entry.name)
            else:
                self.registry.add(backend, name=entry.name, default=entry.default)
            self.registry.clear_failure(entry.name)
            self._entries[entry.name] = (entry, source)
        return backend

    def remove(self, name: str) -> None:
        """Remove a model (in-flight requests finish; it is closed once idle). The default
        model is refused (DefaultModelInUse) while other models could take its place."""
        with self._lock:
            if name == self.registry.default_name:
                raise DefaultModelInUse(
                    f"model {name!r} is the default model; make another model the default "
                    "(an entry with default: true) before removing it", field="name")
            self.registry.remove(name, close=True)
            self._entries.pop(name, None)

    def describe(self) -> list[dict[str, Any]]:
        """Served entries as `public_row` shows them (no keys, no environment-derived URLs or
        folders), with their source and rotation state."""
        states = {s.name: s for s in self.registry.status()}
        rows = []
        with self._lock:
            for name, (entry, source) in sorted(self._entries.items()):
                row = public_row(entry, source)
                state = states.get(name)
                row.update(source=source, healthy=state.healthy if state else False)
                rows.append(row)
        return rows

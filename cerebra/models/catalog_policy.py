"""What a catalog entry sent over the API may name, and what the API shows of an entry.

The operator's own catalog (the file, the inline setting) is trusted: `${VAR}` expands
there, it may name a key's variable (`api_key_env`), any file and any host. An entry that
arrives over the API (`Catalog.submit`) is not:

- `${…}` is refused, never expanded (it would read the server's environment);
- `api_key_env` is refused (only the operator's catalog names a key's variable);
- `path` and `lora` must resolve (symlinks and `..` followed) under one of the model
  directories (`EntryPolicy.model_dirs`);
- the host a remote kind talks to (`base_url`, or the kind's default host) must be on the
  allow-list (`EntryPolicy.allowed_hosts`: `host`, `host:port` or `*.domain`; empty: no
  remote host at all); a URL with user info or odd characters in its authority is refused;
- `options` may not name a location (keys ending in path, url, file, dir or host).

A refusal is an `EntryRefused` (HTTP 403) or `InvalidInput` (422) naming the field.
`public_row` is what `GET /api/models` shows of an entry: kind, upstream model, the host of
its base URL, file names without folders, no keys, no option values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cerebra.errors import CerebraError, InvalidInput
from cerebra.models.catalog_kinds import ModelEntry

# kinds that talk to a remote host, and the host each uses when no base_url is given
REMOTE_DEFAULT_HOSTS: dict[str, str | None] = {"openai": None,
                                               "anthropic": "https://api.anthropic.com"}
_AUTHORITY = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$")
_LOCATION_OPTION = re.compile(r"(path|url|file|dir|host)$", re.IGNORECASE)


class EntryRefused(CerebraError):
    """A catalog entry sent over the API names a file or host it may not use."""

    status_code = 403
    code = "catalog_entry_refused"


@dataclass(frozen=True)
class EntryPolicy:
    """Where API-submitted entries may point (see the module docstring)."""

    model_dirs: tuple[Path, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    remote_kinds: Mapping[str, str | None] = field(
        default_factory=lambda: dict(REMOTE_DEFAULT_HOSTS))

    @classmethod
    def of(cls, model_dirs: Iterable[Path | str], allowed_hosts: Iterable[str]) -> EntryPolicy:
        dirs = tuple(dict.fromkeys(Path(d).expanduser().resolve() for d in model_dirs))
        return cls(dirs, tuple(h.strip().lower() for h in allowed_hosts if h.strip()))

    # -- the raw document, before validation ---------------------------------------------

    def check_raw(self, spec: Mapping[str, Any]) -> None:
        """Refuse `${…}` anywhere and `api_key_env` at all."""
        if spec.get("api_key_env") is not None:
            raise InvalidInput("an entry sent over the API may not name an environment "
                               "variable; put api_key_env in the operator's catalog file",
                               field="api_key_env")
        for where, value in _strings(spec, ""):
            if "${" in value:
                raise InvalidInput("`${…}` is not expanded in entries sent over the API",
                                   field=where or "model")

    # -- the validated entry -------------------------------------------------------------

    def check(self, entry: ModelEntry) -> None:
        for name in ("path", "lora"):
            value = getattr(entry, name)
            if value is not None:
                self._check_path(Path(value), name)
        for key in entry.options:
            if _LOCATION_OPTION.search(str(key)):
                raise EntryRefused(f"option {key!r} may not be set over the API",
                                   field=f"options.{key}")
        if entry.kind in self.remote_kinds:
            url = entry.base_url or self.remote_kinds[entry.kind]
            if url is not None:
                self._check_host(url)

    def _check_path(self, path: Path, name: str) -> None:
        path = path.expanduser()
        if not path.is_absolute():
            raise EntryRefused(f"{name} must be an absolute path under a model directory",
                               field=name)
        real = path.resolve()
        if not any(real == d or real.is_relative_to(d) for d in self.model_dirs):
            raise EntryRefused(f"{name} is not under a configured model directory "
                               "(catalog.model_dirs)", field=name)

    def host_allowed(self, url: str) -> bool:
        """Whether an entry sent over the API may talk to `url`."""
        try:
            self._check_host(url)
        except EntryRefused:
            return False
        return True

    def _check_host(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not _AUTHORITY.match(parts.netloc):
            raise EntryRefused("base_url must be a plain http(s) URL (no user info)",
                               field="base_url")
        host = (parts.hostname or "").lower()
        try:
            port = parts.port
        except ValueError:  # out of range
            raise EntryRefused("base_url has a port out of range", field="base_url") from None
        if not any(_host_matches(allowed, host, port) for allowed in self.allowed_hosts):
            raise EntryRefused(f"host {host!r} is not on the allow-list "
                               "(catalog.allowed_hosts)", field="base_url")


def _host_matches(allowed: str, host: str, port: int | None) -> bool:
    want_port: int | None = None
    if allowed.startswith("["):  # [v6]:port
        name, _, rest = allowed[1:].partition("]")
        want_port = int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    elif allowed.count(":") == 1:
        name, _, num = allowed.partition(":")
        want_port = int(num) if num.isdigit() else None
    else:
        name = allowed
    if want_port is not None and want_port != port:
        return False
    if name.startswith("*."):
        return host.endswith(name[1:]) and host != name[2:]
    return host == name


def _strings(value: Any, where: str) -> Iterable[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, Mapping):
        for key, inner in value.items():
            yield from _strings(inner, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list | tuple):
        for index, inner in enumerate(value):
            yield from _strings(inner, f"{where}.{index}")


def public_row(entry: ModelEntry, source: str) -> dict[str, Any]:
    """What the API shows of an entry: nothing secret, nothing taken from the environment."""
    row: dict[str, Any] = {"name": entry.name, "kind": entry.kind,
                           "model": entry.model or entry.name, "default": entry.default,
                           "enabled": entry.enabled,
                           "source": source if source in ("api", "env") else "file"}
    if entry.base_url:
        parts = urlsplit(entry.base_url)
        row["host"] = parts.hostname or ""
        if parts.port:
            row["host"] += f":{parts.port}"
    for name in ("path", "lora"):
        value = getattr(entry, name)
        if value is not None:
            row[name] = Path(value).name
    if entry.sha256:
        row["sha256"] = entry.sha256
    if entry.context_length:
        row["context_length"] = entry.context_length
    if entry.price is not None:
        row["price"] = entry.price.model_dump(exclude_none=True)
    if entry.options:
        row["options"] = sorted(str(k) for k in entry.options)
    return row

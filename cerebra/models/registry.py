"""ModelRegistry: the catalog of named ModelBackends that requests choose from.

Swapping an entry replaces the object that new requests get; requests already holding the
old backend finish on it.
"""

from __future__ import annotations

import threading

from cerebra.errors import InvalidInput, UnknownModel
from cerebra.models.base import ModelBackend


class ModelRegistry:
    def __init__(self, default: str | None = None) -> None:
        self._models: dict[str, ModelBackend] = {}
        self._default = default
        self._lock = threading.RLock()

    def add(self, backend: ModelBackend, *, name: str | None = None, default: bool = False) -> None:
        key = name or backend.name
        if not key:
            raise InvalidInput("a model needs a name", field="name")
        with self._lock:
            self._models[key] = backend
            if default or self._default is None:
                self._default = key

    def replace(self, name: str, backend: ModelBackend) -> ModelBackend:
        with self._lock:
            old = self.get(name)
            self._models[name] = backend
            return old

    def remove(self, name: str) -> ModelBackend:
        with self._lock:
            backend = self.get(name)
            del self._models[name]
            if self._default == name:
                self._default = next(iter(self._models), None)
            return backend

    def get(self, name: str | None = None) -> ModelBackend:
        with self._lock:
            key = name or self._default
            if key is None or key not in self._models:
                raise UnknownModel(str(name or key), self.names())
            return self._models[key]

    @property
    def default_name(self) -> str | None:
        return self._default

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._models)

    def items(self) -> list[tuple[str, ModelBackend]]:
        with self._lock:
            return sorted(self._models.items())

    def __contains__(self, name: object) -> bool:
        return name in self._models

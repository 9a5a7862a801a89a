"""ModelRegistry: the catalog of named ModelBackends that requests choose from.

Hot swap: `add`, `replace` and `remove` change which object new requests get; a request that
already holds a backend finishes on it. `lease(name)` holds a backend for a whole request,
streams included (a `Lease`: a sync and async context manager, or `release()` by hand, that
can live as long as a generator does) and counts it in flight, so `remove(..., close=True)` /
`replace(..., close=True)` close the old backend only after its last lease is returned.
`member(name)` is a backend that leases `name` anew for each call (a router's view of the
catalog: always the current model, never a retired one closed under it). Health: a model
marked unhealthy (by the HealthMonitor) leaves rotation — `get(name)` raises
ModelUnavailable (a retryable BackendError, so a router falls back), the default request
skips to a healthy model — and comes back when marked healthy.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from types import TracebackType

from cerebra.errors import BackendError, InvalidInput, UnknownModel
from cerebra.models.base import (
    Capabilities,
    Generation,
    GenerationRequest,
    ModelBackend,
    ProbeResult,
    StreamChunk,
)

log = logging.getLogger(__name__)

Listener = Callable[[str, str, ModelBackend | None], None]  # (event, name, backend)


class ModelUnavailable(BackendError):
    """The model exists but is out of rotation (failing its health probes)."""

    status_code = 503
    code = "model_unavailable"


@dataclass
class _Slot:
    backend: ModelBackend
    healthy: bool = True
    detail: str = "ok"
    in_flight: int = 0
    close_when_idle: bool = False


@dataclass(frozen=True)
class ModelStatus:
    name: str
    healthy: bool
    detail: str
    in_flight: int
    default: bool


def _close(backend: ModelBackend) -> None:
    closer = getattr(backend, "close", None)
    if callable(closer):
        try:
            closer()
        except Exception:  # closing a retired backend must never break a swap
            log.exception("closing retired model %s failed", getattr(backend, "name", "?"))


class ModelRegistry:
    def __init__(self, default: str | None = None) -> None:
        self._slots: dict[str, _Slot] = {}
        self._default = default
        self._lock = threading.RLock()
        self._listeners: list[Listener] = []
        self._failures: dict[str, str] = {}

    # -- changes -------------------------------------------------------------------------

    def add(self, backend: ModelBackend, *, name: str | None = None, default: bool = False) -> None:
        """Add (or overwrite) a model; the first one added becomes the default."""
        key = name or backend.name
        if not key:
            raise InvalidInput("a model needs a name", field="name")
        with self._lock:
            old = self._slots.get(key)
            self._slots[key] = _Slot(backend)
            self._failures.pop(key, None)
            if default or self._default is None or self._default not in self._slots:
                self._default = key
        self._notify("replaced" if old else "added", key, backend)

    def replace(self, name: str, backend: ModelBackend, *, close: bool = False) -> ModelBackend:
        """Swap the backend behind `name`; returns the old one (closed once idle if `close`)."""
        with self._lock:
            slot = self._slot(name)
            self._slots[name] = _Slot(backend)
            self._failures.pop(name, None)
            if close:
                self._retire(slot)
        self._notify("replaced", name, backend)
        return slot.backend

    def remove(self, name: str, *, close: bool = False) -> ModelBackend:
        """Take `name` out; requests holding it finish; closed once idle if `close`."""
        with self._lock:
            slot = self._slot(name)
            del self._slots[name]
            if self._default == name:
                self._default = next(iter(sorted(self._slots)), None)
            if close:
                self._retire(slot)
        self._notify("removed", name, None)
        return slot.backend

    def _retire(self, slot: _Slot) -> None:
        if slot.in_flight == 0:
            _close(slot.backend)
        else:
            slot.close_when_idle = True

    def set_default(self, name: str) -> None:
        with self._lock:
            self._slot(name)
            self._default = name

    # -- lookup --------------------------------------------------------------------------

    def _slot(self, name: str) -> _Slot:
        slot = self._slots.get(name)
        if slot is None:
            raise UnknownModel(name, self.names())
        return slot

    def _pick(self, name: str | None) -> tuple[str, _Slot]:
        if name:
            slot = self._slot(name)
            if not slot.healthy:
                raise ModelUnavailable(
                    f"model {name!r} is out of rotation: {slot.detail}", retryable=True)
            return name, slot
        order = [self._default] if self._default in self._slots else []
        order += [n for n in sorted(self._slots) if n != self._default]
        if not order:
            raise UnknownModel(str(name or self._default), [])
        for key in order:
            if self._slots[key].healthy:
                return key, self._slots[key]
        raise ModelUnavailable(
            f"no model is in rotation ({', '.join(order)} are failing health probes)",
            retryable=True)

    def get(self, name: str | None = None) -> ModelBackend:
        """The backend for `name` (or the default: the first healthy one from it)."""
        with self._lock:
            return self._pick(name)[1].backend

    def resolve(self, name: str | None = None) -> tuple[str, ModelBackend]:
        """Like get, also returning the name that was chosen (useful for the default)."""
        with self._lock:
            key, slot = self._pick(name)
            return key, slot.backend

    def lease(self, name: str | None = None, *, in_rotation: bool = True) -> Lease:
        """Hold the backend for `name` (or the default) for one request, from now until the
        lease is released; a retired backend is closed when its last lease is returned.
        `in_rotation=False` also leases a model that is failing its health probes."""
        with self._lock:
            if in_rotation:
                key, slot = self._pick(name)
            else:
                key = name or self._default or ""
                slot = self._slot(key)
            slot.in_flight += 1
        return Lease(self, key, slot)

    def _return(self, slot: _Slot) -> None:
        with self._lock:
            slot.in_flight -= 1
            closing = slot.close_when_idle and slot.in_flight == 0
            if closing:
                slot.close_when_idle = False  # closed once
        if closing:
            _close(slot.backend)

    def member(self, name: str) -> RegistryMember:
        """A backend that leases `name` for each call (see the module docstring)."""
        return RegistryMember(self, name)

    @property
    def default_name(self) -> str | None:
        return self._default

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._slots)

    def available(self) -> list[str]:
        """Names of the models in rotation (registered and healthy)."""
        with self._lock:
            return sorted(n for n, s in self._slots.items() if s.healthy)

    def items(self) -> list[tuple[str, ModelBackend]]:
        with self._lock:
            return sorted((n, s.backend) for n, s in self._slots.items())

    def __contains__(self, name: object) -> bool:
        return name in self._slots

    def __len__(self) -> int:
        return len(self._slots)

    # -- health and failures -------------------------------------------------------------

    def set_health(self, name: str, healthy: bool, detail: str = "",
                   backend: ModelBackend | None = None) -> bool:
        """Mark a model in or out of rotation; returns whether its state changed.

        With `backend`, the mark applies only if that backend is still the one serving
        (a probe of a backend that was swapped out meanwhile is ignored).
        """
        with self._lock:
            slot = self._slots.get(name)
            if slot is None or (backend is not None and slot.backend is not backend):
                return False
            changed = slot.healthy != healthy
            slot.healthy = healthy
            slot.detail = detail or ("ok" if healthy else "unhealthy")
        if changed:
            self._notify("healthy" if healthy else "unhealthy", name, slot.backend)
        return changed

    def status(self) -> list[ModelStatus]:
        with self._lock:
            return [ModelStatus(n, s.healthy, s.detail, s.in_flight, n == self._default)
                    for n, s in sorted(self._slots.items())]

    def record_failure(self, name: str, message: str) -> None:
        """Remember why a configured model could not be loaded (shown by the API)."""
        with self._lock:
            self._failures[name] = message

    def clear_failure(self, name: str) -> None:
        with self._lock:
            self._failures.pop(name, None)

    def failures(self) -> dict[str, str]:
        with self._lock:
            return dict(self._failures)

    # -- listeners -----------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(event, name, backend)` on added/replaced/removed/(un)healthy."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return unsubscribe

    def _notify(self, event: str, name: str, backend: ModelBackend | None) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event, name, backend)
            except Exception:
                log.exception("model registry listener failed on %s %s", event, name)


class Lease:
    """One request's hold on a model: `backend` stays usable (and unclosed) until `release()`,
    which is idempotent. As a context manager (`with` or `async with`) it gives the backend
    and releases on exit, also when a generator holding it is closed or collected; a lease
    that is garbage collected unreleased returns itself."""

    def __init__(self, registry: ModelRegistry, name: str, slot: _Slot) -> None:
        self.name = name
        self.backend = slot.backend
        self._registry = registry
        self._slot: _Slot | None = slot
        self._lock = threading.Lock()

    @property
    def released(self) -> bool:
        return self._slot is None

    def release(self) -> None:
        with self._lock:
            slot, self._slot = self._slot, None
        if slot is not None:
            self._registry._return(slot)

    def __del__(self) -> None:  # a lease dropped unreleased (an abandoned request) returns
        if getattr(self, "_slot", None) is not None:
            self.release()

    def __enter__(self) -> ModelBackend:
        return self.backend

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()

    async def __aenter__(self) -> ModelBackend:
        return self.backend

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.release()


class RegistryMember:
    """The current backend registered as `name`, leased for each call (for a stream, until
    it ends or is closed). Models out of rotation are still called: whoever holds members
    (a router) keeps its own health; a model removed meanwhile fails over (not retryable)."""

    def __init__(self, registry: ModelRegistry, name: str) -> None:
        self.registry = registry
        self.name = name

    def _lease(self) -> Lease:
        try:
            return self.registry.lease(self.name, in_rotation=False)
        except UnknownModel as exc:
            raise BackendError(f"model {self.name!r} was removed", retryable=False) from exc

    def _current(self) -> ModelBackend:
        with self._lease() as backend:
            return backend

    @property
    def capabilities(self) -> Capabilities:
        return self._current().capabilities

    def count_tokens(self, text: str) -> int:
        return self._current().count_tokens(text)

    def generate(self, request: GenerationRequest) -> Generation:
        with self._lease() as backend:
            return backend.generate(request)

    async def agenerate(self, request: GenerationRequest) -> Generation:
        with self._lease() as backend:
            return await backend.agenerate(request)

    def stream(self, request: GenerationRequest) -> Iterator[StreamChunk]:
        with self._lease() as backend:
            yield from backend.stream(request)

    async def astream(self, request: GenerationRequest) -> AsyncIterator[StreamChunk]:
        async with self._lease() as backend:
            async for chunk in backend.astream(request):
                yield chunk

    def probe(self) -> ProbeResult:
        with self._lease() as backend:
            return backend.probe()


def wrapped_by(backend: object, kind: type) -> bool:
    """Whether `backend` or any backend it wraps (through `.inner`) is a `kind`."""
    seen = 0
    while backend is not None and seen < 16:
        if isinstance(backend, kind):
            return True
        backend = getattr(backend, "inner", None)
        seen += 1
    return False

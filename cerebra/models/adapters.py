"""LoRA adapters served per request on one loaded llama.cpp model (like LoRAX).

An `AdapterPool` belongs to one `LlamaCppBackend` and holds the GGUF LoRA adapters loaded
against its model (`llama_adapter_lora_init`), several at once, by key. A request names its
adapter in `request.extra["lora_adapter"]`; the backend, holding its generation lock, calls
`pool.applied(key)`, which sets exactly that adapter on the context (none for the base) with
`llama_set_adapters_lora` and resets the prompt/KV cache whenever the applied adapter
changes, so a prefix evaluated under one adapter is never reused under another (and under an
adapter the prompt is always evaluated afresh: llama-cpp-python's prefix reuse changes a
LoRA's answers).

Hot add and remove: `load` adds an adapter while other requests run; `unload` retires one,
which is freed (`llama_adapter_lora_free`) only when no request holds it and it is no longer
set on the context — never under a generation that uses it.

`AdapterBackend` is the served model "base:adapter": a ModelBackend that leases the base
from the models registry (cerebra.models.registry) for each call, loads its adapter into the
base's pool when missing (after a hot swap of the base, too) and generates with it. With
`adapter=None` it serves the plain base under the adapter's name (a rollback to the base).
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cerebra.errors import BackendError, CerebraError, ModelVerificationError
from cerebra.models.base import (
    Capabilities,
    Generation,
    GenerationRequest,
    ProbeResult,
    StreamChunk,
)
from cerebra.models.registry import ModelRegistry

ADAPTER_KEY = "lora_adapter"  # request.extra key naming the adapter (a pool key)


class AdapterUnavailable(CerebraError):
    """The base model serving an adapter is not a llama.cpp model (adapters need one)."""

    status_code = 422
    code = "adapter_unavailable"


@dataclass
class _Adapter:
    key: str
    path: Path
    scale: float
    handle: Any  # llama_adapter_lora_p
    refs: int = 0
    retired: bool = False


class AdapterPool:
    """The adapters loaded on one llama.cpp model; see the module docstring."""

    def __init__(self, llm_of: Any) -> None:
        self._llm_of = llm_of  # () -> the backend's llama_cpp.Llama (raises when closed)
        self._lock = threading.Lock()
        self._adapters: dict[str, _Adapter] = {}
        self._retired: list[_Adapter] = []  # unloaded, waiting to be freed
        self._active: _Adapter | None = None  # set on the context now

    def keys(self) -> list[str]:
        with self._lock:
            return sorted(self._adapters)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._adapters

    def load(self, key: str, path: Path, *, scale: float = 1.0) -> None:
        """Load `path` as adapter `key` (no-op when that key is loaded from that path);
        a file llama.cpp cannot load against this model is ModelVerificationError."""
        import llama_cpp

        with self._lock:
            have = self._adapters.get(key)
            if have is not None and have.path == path and have.scale == scale:
                return
        if not Path(path).is_file():
            raise ModelVerificationError(f"adapter file {path} does not exist", field="path")
        handle = llama_cpp.llama_adapter_lora_init(self._llm_of().model, str(path).encode())
        if not handle:
            raise ModelVerificationError(
                f"llama.cpp cannot load the LoRA adapter {path} on this base model "
                "(not a LoRA GGUF, or made for another architecture or size)", field="path")
        with self._lock:
            old = self._adapters.get(key)
            self._adapters[key] = _Adapter(key, Path(path), scale, handle)
            if old is not None:
                self._retire(old)

    def unload(self, key: str) -> bool:
        """Retire adapter `key` (freed once idle); whether it was loaded."""
        with self._lock:
            old = self._adapters.pop(key, None)
            if old is not None:
                self._retire(old)
        return old is not None

    def _retire(self, adapter: _Adapter) -> None:  # pool lock held
        adapter.retired = True
        self._retired.append(adapter)

    def _free_idle(self) -> None:  # pool lock and the backend's generation lock held
        import llama_cpp

        keep = []
        for adapter in self._retired:
            if adapter.refs == 0 and adapter is not self._active:
                llama_cpp.llama_adapter_lora_free(adapter.handle)
            else:
                keep.append(adapter)
        self._retired = keep

    @contextmanager
    def applied(self, key: str | None) -> Iterator[None]:
        """Apply adapter `key` (None: the base) for one generation. The caller holds the
        backend's generation lock for the whole block: only one generation per context."""
        with self._lock:
            adapter = None
            if key is not None:
                adapter = self._adapters.get(key)
                if adapter is None:
                    raise BackendError(f"LoRA adapter {key!r} is not loaded", retryable=True)
                adapter.refs += 1
            if adapter is not self._active:
                self._set(adapter)
            elif adapter is not None:
                # llama-cpp-python's prefix reuse gives other answers under a LoRA (measured
                # on Gemma 3: the same prompt twice differs): evaluate the prompt afresh
                self._llm_of().reset()
            self._free_idle()
        try:
            yield
        finally:
            with self._lock:
                if adapter is not None:
                    adapter.refs -= 1
                    if adapter.retired and adapter.refs == 0:
                        self._set(None)
                self._free_idle()

    def _set(self, adapter: _Adapter | None) -> None:  # both locks held
        import llama_cpp

        llm = self._llm_of()
        if adapter is None:
            rc = llama_cpp.llama_set_adapters_lora(llm.ctx, None, 0, None)
        else:
            handles = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(adapter.handle)
            scales = (ctypes.c_float * 1)(adapter.scale)
            rc = llama_cpp.llama_set_adapters_lora(llm.ctx, handles, 1, scales)
        if rc != 0:
            raise BackendError(f"llama.cpp could not apply LoRA adapter "
                               f"{adapter.key if adapter else None!r} (code {rc})")
        llm.reset()  # the prompt cache holds another adapter's KV: never reuse it
        self._active = adapter

    def close(self) -> None:
        """Forget every adapter (the model frees them with itself)."""
        with self._lock:
            self._adapters.clear()
            self._retired.clear()
            self._active = None


def pool_of(backend: Any) -> AdapterPool:
    """The AdapterPool of the llama.cpp model at the bottom of `backend`'s wrappers."""
    seen = 0
    while backend is not None and seen < 16:
        pool = getattr(backend, "adapters", None)
        if isinstance(pool, AdapterPool):
            return pool
        backend = getattr(backend, "inner", None)
        seen += 1
    raise AdapterUnavailable("the base model is not a local llama.cpp model: LoRA adapters "
                             "are served on llama.cpp models only", field="base")


class AdapterBackend:
    """The served model `name` ("base:adapter"): the base leased from `models` for each call,
    with the adapter `key` (a pool key) loaded from `path`; see the module docstring."""

    def __init__(self, models: ModelRegistry, base: str, name: str, key: str | None,
                 path: Path | None, *, scale: float = 1.0) -> None:
        self.models = models
        self.base = base
        self.name = name
        self.key = key
        self.path = path
        self.scale = scale
        # what a response cache keys on (cerebra.models.cache): the version, not just the name
        self.cache_identity = f"{name}@{key or 'base'}"

    def _leased(self) -> Any:
        return self.models.lease(self.base, in_rotation=False)

    def _request(self, backend: Any, request: GenerationRequest) -> GenerationRequest:
        if self.key is None or self.path is None:
            return request
        pool = pool_of(backend)
        if self.key not in pool:  # the base was hot-swapped: load on the new model
            pool.load(self.key, self.path, scale=self.scale)
        return request.with_(extra={**request.extra, ADAPTER_KEY: self.key})

    def prepare(self) -> None:
        """Load the adapter on the current base now (promotion's load check)."""
        with self._leased() as backend:
            if self.key is not None and self.path is not None:
                pool_of(backend).load(self.key, self.path, scale=self.scale)

    def close(self) -> None:
        """Unload the adapter from the current base (freed once no request uses it). The
        models registry calls this when a swapped-out view's last request has ended."""
        if self.key is None or self.base not in self.models:
            return
        with self._leased() as backend, contextlib.suppress(AdapterUnavailable):
            pool_of(backend).unload(self.key)

    @property
    def capabilities(self) -> Capabilities:
        with self._leased() as backend:
            caps: Capabilities = backend.capabilities
            return caps

    def count_tokens(self, text: str) -> int:
        with self._leased() as backend:
            return int(backend.count_tokens(text))

    def generate(self, request: GenerationRequest) -> Generation:
        with self._leased() as backend:
            gen: Generation = backend.generate(self._request(backend, request))
        return replace(gen, model=self.name)

    async def agenerate(self, request: GenerationRequest) -> Generation:
        with self._leased() as backend:
            gen: Generation = await backend.agenerate(self._request(backend, request))
        return replace(gen, model=self.name)

    def stream(self, request: GenerationRequest) -> Iterator[StreamChunk]:
        with self._leased() as backend:
            yield from backend.stream(self._request(backend, request))

    async def astream(self, request: GenerationRequest) -> AsyncIterator[StreamChunk]:
        with self._leased() as backend:
            async for chunk in backend.astream(self._request(backend, request)):
                yield chunk

    def probe(self) -> ProbeResult:
        with self._leased() as backend:
            result: ProbeResult = backend.probe()
            return result

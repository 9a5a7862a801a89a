"""WrapperBackend: the one base of every ModelBackend that wraps another (cache, metering,
admission queue, registry leases).

It holds the wrapped backend as `inner`, delegates the whole protocol to it (name,
capabilities, token counting, the four generation methods, the probe), and closes it:
`close()` closes the wrapped backend, `aclose()` awaits its `aclose` (what it holds for the
running event loop), so a retired stack of wrappers releases the model at its bottom. A
subclass overrides only what it changes; other attributes reach the wrapped backend.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from cerebra.models.base import (
    Capabilities,
    Generation,
    GenerationRequest,
    ModelBackend,
    ProbeResult,
    StreamChunk,
)


class WrapperBackend:
    """Delegates to `inner`; see the module docstring."""

    def __init__(self, inner: ModelBackend, *, name: str | None = None) -> None:
        self.inner = inner
        self.name = name or inner.name

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def generate(self, request: GenerationRequest) -> Generation:
        return self.inner.generate(request)

    async def agenerate(self, request: GenerationRequest) -> Generation:
        return await self.inner.agenerate(request)

    def stream(self, request: GenerationRequest) -> Iterator[StreamChunk]:
        return self.inner.stream(request)

    def astream(self, request: GenerationRequest) -> AsyncIterator[StreamChunk]:
        return self.inner.astream(request)

    def probe(self) -> ProbeResult:
        return self.inner.probe()

    def close(self) -> None:
        closer = getattr(self.inner, "close", None)
        if callable(closer):
            closer()

    async def aclose(self) -> None:
        closer = getattr(self.inner, "aclose", None)
        if callable(closer):
            await closer()

    def __getattr__(self, item: str) -> Any:  # reach the wrapped backend's extras
        if item == "inner" or item.startswith("__"):
            raise AttributeError(item)
        return getattr(self.inner, item)


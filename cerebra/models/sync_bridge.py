"""Async methods for backends whose engine is synchronous (llama.cpp, transformers, fakes).

`agenerate` runs `generate` in a worker thread; `astream` drains `stream` from a worker
thread through a queue, so the event loop never blocks on token generation.
"""

from __future__ import annotations

import asyncio
import threading
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator

from cerebra.models.base import Generation, GenerationRequest, StreamChunk

_DONE = object()


class SyncBackendMixin(ABC):
    """Gives a class with sync `generate`/`stream` the async pair."""

    @abstractmethod
    def generate(self, request: GenerationRequest) -> Generation: ...

    @abstractmethod
    def stream(self, request: GenerationRequest) -> Iterator[StreamChunk]: ...

    async def agenerate(self, request: GenerationRequest) -> Generation:
        return await asyncio.to_thread(self.generate, request)

    async def astream(self, request: GenerationRequest) -> AsyncIterator[StreamChunk]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        cancelled = threading.Event()

        def pump() -> None:
            try:
                for chunk in self.stream(request):
                    if cancelled.is_set():
                        break
                    loop.call_soon_threadsafe(queue.put_nowait, chunk)
            except BaseException as exc:  # forwarded to the consumer, re-raised there
                loop.call_soon_threadsafe(queue.put_nowait, exc)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, _DONE)

        worker = loop.run_in_executor(None, pump)
        try:
            while True:
                item = await queue.get()
                if item is _DONE:
                    break
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, StreamChunk)
                yield item
        finally:
            cancelled.set()
            await worker

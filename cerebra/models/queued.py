"""QueuedBackend: the ModelBackend wrapper that keeps a local model up under load.

It puts an `Admission` queue in front of a local backend (llama.cpp, transformers): one
generation runs, a bounded number wait in order, the rest get `Overloaded` (429 with
Retry-After). Every request carries a Cancellation (the caller's, or one made here with the
configured wall-clock limit), so a generation stops between tokens when its client goes away
or its time is up; the slot is held exactly as long as the backend works, whatever the
consumer does. The probe of a busy model reports ok ("busy") at once: a model is unhealthy
when it fails, not when it is working. Stopped generations are counted (reason, tokens, time
from the cancel to the stop) for /metrics and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from cerebra.models.admission import Admission, AdmissionStats, QueuePolicy
from cerebra.models.base import (
    Generation,
    GenerationRequest,
    ModelBackend,
    ProbeResult,
    StreamChunk,
    Usage,
)
from cerebra.models.cancellation import CANCELLED, STOP_REASONS, Cancellation
from cerebra.models.wrapper import WrapperBackend

if TYPE_CHECKING:
    from cerebra.config import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")
_DONE = object()


@dataclass
class StopStats:
    """Generations that were stopped (cancelled or timed out), by reason."""

    count: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, int] = field(default_factory=dict)  # completion tokens they produced
    stop_seconds: dict[str, float] = field(default_factory=dict)  # Σ time from cancel to stop
    timed: dict[str, int] = field(default_factory=dict)  # how many stop_seconds covers


def _settle(loop: asyncio.AbstractEventLoop, future: asyncio.Future[T],
            result: T | None = None, error: BaseException | None = None) -> None:
    def apply() -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    with contextlib.suppress(RuntimeError):  # the loop is gone; nobody awaits the result
        loop.call_soon_threadsafe(apply)


def _thread(target: Callable[[], None], name: str) -> None:
    """Run `target` in its own thread with the caller's context: one per running generation
    (the queue bounds them), never parked in the shared executor."""
    context = contextvars.copy_context()
    threading.Thread(target=context.run, args=(target,), name=name, daemon=True).start()


class QueuedBackend(WrapperBackend):
    """Admits requests to `inner` through a bounded queue; see the module docstring."""

    def __init__(
        self,
        inner: ModelBackend,
        *,
        queue_size: int = 16,
        timeout_s: float | None = None,
        policy: QueuePolicy | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(inner, name=name)
        self.timeout_s = timeout_s or None
        self.admission = Admission(name=self.name, queue_size=queue_size, policy=policy)
        self._stops = StopStats()
        self._stops_lock = threading.Lock()

    # -- bookkeeping ------------------------------------------------------------------------
    def _with_token(self, request: GenerationRequest) -> tuple[GenerationRequest, Cancellation]:
        if request.cancellation is not None:
            return request, request.cancellation
        token = Cancellation(timeout_s=self.timeout_s)
        return request.with_(cancellation=token), token

    @staticmethod
    def _key(request: GenerationRequest) -> str:
        return request.context.tenant_id  # the queue policy's fairness key

    def _observe(self, reason: str | None, tokens: int, token: Cancellation) -> None:
        if reason not in STOP_REASONS:
            return
        assert reason is not None
        took = token.since_cancelled()
        with self._stops_lock:
            stops = self._stops
            stops.count[reason] = stops.count.get(reason, 0) + 1
            stops.tokens[reason] = stops.tokens.get(reason, 0) + tokens
            if took is not None:
                stops.stop_seconds[reason] = stops.stop_seconds.get(reason, 0.0) + took
                stops.timed[reason] = stops.timed.get(reason, 0) + 1
        log.info("generation stopped", extra={
            "model": self.name, "reason": reason, "completion_tokens": tokens,
            "stop_ms": None if took is None else round(took * 1000, 1)})

    def stop_stats(self) -> StopStats:
        with self._stops_lock:
            s = self._stops
            return StopStats(dict(s.count), dict(s.tokens), dict(s.stop_seconds), dict(s.timed))

    def queue_stats(self) -> AdmissionStats:
        return self.admission.stats()

    def _unstarted(self, token: Cancellation) -> Generation:
        """The answer to a request cancelled while it waited: nothing generated."""
        reason = token.reason or CANCELLED
        self._observe(reason, 0, token)
        return Generation(text="", model=self.name, usage=Usage(), finish_reason=reason)

    # -- generate -----------------------------------------------------------------------------
    def _run(self, request: GenerationRequest, token: Cancellation) -> Generation:
        """Generate while holding the slot (taken by the caller); give it back at the end."""
        start = time.monotonic()
        try:
            gen = self.inner.generate(request)
            self._observe(gen.finish_reason, gen.usage.completion_tokens, token)
        finally:
            self.admission.leave(time.monotonic() - start)
        return gen

    def generate(self, request: GenerationRequest) -> Generation:
        request, token = self._with_token(request)
        if not self.admission.enter(self._key(request), token):
            return self._unstarted(token)
        return self._run(request, token)

    async def agenerate(self, request: GenerationRequest) -> Generation:
        request, token = self._with_token(request)
        if not await self.admission.aenter(self._key(request), token):
            return self._unstarted(token)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Generation] = loop.create_future()

        def work() -> None:
            try:
                _settle(loop, done, self._run(request, token))
            except BaseException as exc:
                _settle(loop, done, error=exc)

        _thread(work, f"cerebra-generate-{self.name}")
        try:
            return await done
        except asyncio.CancelledError:
            token.cancel(CANCELLED)  # nobody awaits the answer: stop; the thread frees the slot
            raise

    # -- stream -------------------------------------------------------------------------------
    def _pull(self, request: GenerationRequest, token: Cancellation
              ) -> Generator[StreamChunk, None, None]:
        """The inner stream, holding the slot (taken by the caller) until the backend is done:
        it is given back before the last chunk is handed on, or when the stream is closed."""
        start = time.monotonic()
        held = True
        pieces = 0  # text chunks handed on: a local backend streams one per token
        inner = self.inner.stream(request)
        try:
            for chunk in inner:
                if chunk.finish_reason is not None and held:
                    tokens = chunk.usage.completion_tokens if chunk.usage else 0
                    self._observe(chunk.finish_reason, tokens, token)
                    held = False
                    self.admission.leave(time.monotonic() - start)
                pieces += bool(chunk.text)
                yield chunk
        except GeneratorExit:  # the consumer went away: the generation is not wanted
            if held:
                token.cancel(CANCELLED)
                self._observe(CANCELLED, pieces, token)  # no final chunk will say so
            raise
        finally:
            closer = getattr(inner, "close", None)
            if callable(closer):
                closer()  # the backend stops now (its lock released) …
            if held:
                self.admission.leave(time.monotonic() - start)  # … then the next one runs

    def stream(self, request: GenerationRequest) -> Iterator[StreamChunk]:
        request, token = self._with_token(request)
        if not self.admission.enter(self._key(request), token):
            gen = self._unstarted(token)
            yield StreamChunk(text="", finish_reason=gen.finish_reason, usage=gen.usage)
            return
        yield from self._pull(request, token)

    async def astream(self, request: GenerationRequest) -> AsyncIterator[StreamChunk]:
        request, token = self._with_token(request)
        if not await self.admission.aenter(self._key(request), token):
            gen = self._unstarted(token)
            yield StreamChunk(text="", finish_reason=gen.finish_reason, usage=gen.usage)
            return
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        abandoned = threading.Event()

        def put(item: object) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone
                loop.call_soon_threadsafe(queue.put_nowait, item)

        def pump() -> None:
            pulled = self._pull(request, token)
            try:
                for chunk in pulled:
                    put(chunk)
                    if abandoned.is_set():
                        break
            except BaseException as exc:  # re-raised in the consumer
                put(exc)
            finally:
                pulled.close()
                put(_DONE)

        _thread(pump, f"cerebra-stream-{self.name}")
        finished = False
        try:
            while True:
                item = await queue.get()
                if item is _DONE:
                    finished = True
                    return
                if isinstance(item, BaseException):
                    finished = True
                    raise item
                assert isinstance(item, StreamChunk)
                finished = item.finish_reason is not None  # the backend is done
                yield item
        finally:
            if not finished:  # the consumer left (or was cancelled): stop the generation
                abandoned.set()
                token.cancel(CANCELLED)

    # -- health -------------------------------------------------------------------------------
    def probe(self) -> ProbeResult:
        """Busy is healthy: while a generation runs or requests wait, report ok at once."""
        if not self.admission.try_enter():
            return ProbeResult(True, 0.0, "busy")
        try:
            return self.inner.probe()
        finally:
            self.admission.leave()


def queue_local(backend: ModelBackend, settings: Settings | None = None) -> QueuedBackend:
    """Wrap a local backend with the configured queue size and wall-clock limit."""
    if settings is None:
        from cerebra.config import get_settings

        settings = get_settings()
    return QueuedBackend(backend, queue_size=settings.model.queue_size,
                         timeout_s=settings.generation.timeout_s or None)

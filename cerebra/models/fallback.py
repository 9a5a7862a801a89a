"""FallbackBackend: a ModelBackend that tries a chain of backends in order, retrying one when
told to, and reports every attempt as data.

The walk along the chain is one `AttemptPlanner` — which backend next, after how long, what
each attempt cost — driven the same way by generate, agenerate, stream and astream. A
failure moves on when `should_fallback(exc)` says so (by default: backend failures yes, a
request that is itself wrong no: it is raised at once); `retry_delay(name, exc, attempt)`
may instead ask for the same backend again after a pause; `observe(attempt, exc)` sees each
attempt as it ends. The answer carries a `RoutingResult` (served_by and every attempt,
failed ones first; `describe` may make it, as a router does) on the Generation or the final
StreamChunk; when every backend fails, one clean error names each of them
(`ChainFailed`, a BackendError with the attempts). A stream that fails after it has handed
out text never switches backend silently: it ends with `StreamBroken`. A Router composes one
chain per request (its pick first, then its fallback order) and supplies the predicates.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from cerebra.errors import BackendError, CerebraError, Overloaded, PromptTooLong
from cerebra.models.base import (
    Attempt,
    Capabilities,
    Generation,
    GenerationRequest,
    ModelBackend,
    ProbeResult,
    RoutingResult,
    StreamChunk,
)
from cerebra.models.wrapper import WrapperBackend

RetryDelay = Callable[[str, Exception, int], "float | None"]  # (backend, error, attempt no.)
Observer = Callable[[Attempt, "Exception | None"], None]
# (served_by, attempts) -> the result on the answer; a router puts its decision there
Describe = Callable[[str, tuple[Attempt, ...]], RoutingResult]


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def default_should_fallback(exc: Exception) -> bool:
    """Backend failures (and anything unexpected) move on; so does a prompt too long for one
    backend (another may have a larger context); any other CerebraError means the request
    itself is wrong, and no backend will do better."""
    if isinstance(exc, BackendError | PromptTooLong):
        return True
    return not isinstance(exc, CerebraError)


class ChainFailed(BackendError):
    """Every backend of a chain failed; the message names each one and its error."""

    def __init__(self, message: str, attempts: tuple[Attempt, ...], *, retryable: bool,
                 retry_after: float | None) -> None:
        super().__init__(message, retryable=retryable, retry_after=retry_after)
        self.attempts = attempts


class StreamBroken(BackendError):
    """A stream failed after it had handed out chunks: it cannot move to another backend."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


@dataclass
class Step:
    """One attempt to make: the backend, its try number, and the pause taken before it."""

    name: str
    backend: ModelBackend
    number: int = 1
    waited_s: float = 0.0
    started: float = field(default_factory=time.perf_counter)

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000


class AttemptPlanner:
    """One request's walk along a chain (see the module docstring). Iterate it for the steps;
    after each, call `failed` (returns the pause before the next step; raises what must not
    fall back), `served`/`served_chunk` or `broken`; when the steps run out, raise
    `exhausted()`."""

    def __init__(self, backends: Sequence[ModelBackend], *,
                 should_fallback: Callable[[Exception], bool] = default_should_fallback,
                 retry_delay: RetryDelay | None = None, observe: Observer | None = None,
                 describe: Describe | None = None) -> None:
        self._chain = list(backends)
        self._should_fallback = should_fallback
        self._retry_delay = retry_delay
        self._observe = observe
        self._describe = describe
        self._index = 0
        self._next: Step | None = Step(self._chain[0].name, self._chain[0]) if self._chain else None
        self.attempts: list[Attempt] = []
        self.errors: dict[str, Exception] = {}  # the last error of each backend tried

    def __iter__(self) -> Iterator[Step]:
        while self._next is not None:
            step, self._next = self._next, None
            step.started = time.perf_counter()
            yield step

    def _record(self, attempt: Attempt, exc: Exception | None) -> None:
        self.attempts.append(attempt)
        if self._observe is not None:
            self._observe(attempt, exc)

    def failed(self, step: Step, exc: Exception) -> float:
        """Record a failed attempt; the pause before the next step (0 when moving on)."""
        self.errors[step.name] = exc
        self._record(Attempt(step.name, False, step.elapsed_ms(), describe(exc), step.waited_s),
                     exc)
        if not self._should_fallback(exc):
            raise exc
        delay = self._retry_delay(step.name, exc, step.number) if self._retry_delay else None
        if delay is not None:
            self._next = Step(step.name, step.backend, step.number + 1, delay)
            return delay
        self._index += 1
        if self._index < len(self._chain):
            backend = self._chain[self._index]
            self._next = Step(backend.name, backend)
        return 0.0

    def broken(self, step: Step, exc: Exception, chunks: int) -> StreamBroken:
        """The error that ends a stream which failed after handing out `chunks` chunks."""
        message = f"stream from {step.name} broke after {chunks} chunks: {describe(exc)}"
        error = StreamBroken(message)
        self.errors[step.name] = error
        self._record(Attempt(step.name, False, step.elapsed_ms(), message, step.waited_s), error)
        return error

    def result(self, served_by: str) -> RoutingResult:
        if self._describe is not None:
            return self._describe(served_by, tuple(self.attempts))
        failed = list(dict.fromkeys(a.backend for a in self.attempts if not a.ok))
        reason = f"fallback after {', '.join(failed)} failed" if failed else "first in chain"
        chosen = self._chain[0].name if self._chain else served_by
        return RoutingResult(served_by, tuple(self.attempts), chosen=chosen, reason=reason)

    def served(self, step: Step, generation: Generation) -> Generation:
        latency = max(step.elapsed_ms(), generation.latency_ms)
        self._record(Attempt(step.name, True, latency, "", step.waited_s), None)
        return replace(generation, routing=self.result(step.name))

    def served_chunk(self, step: Step, final: StreamChunk | None) -> StreamChunk:
        """The stream's last chunk (made when the backend sent none), with the result."""
        self._record(Attempt(step.name, True, step.elapsed_ms(), "", step.waited_s), None)
        final = final or StreamChunk(text="", finish_reason="stop")
        return replace(final, routing=self.result(step.name))

    def exhausted(self) -> CerebraError:
        """The one error for a chain where nothing answered."""
        errors = self.errors
        too_long = [e for e in errors.values() if isinstance(e, PromptTooLong)]
        if too_long and len(too_long) == len(errors):
            return too_long[0]
        detail = "; ".join(f"{n}: {describe(e)}" for n, e in errors.items()) or "none tried"
        busy = [e for e in errors.values() if isinstance(e, Overloaded)]
        if busy and len(busy) == len(errors):  # every model is busy: a 429, not a failure
            return Overloaded(f"every model is busy: {detail}",
                              retry_after_s=min(e.retry_after_s for e in busy))
        waits = [e.retry_after for e in errors.values()
                 if isinstance(e, BackendError) and e.retry_after is not None]
        retryable = any((isinstance(e, BackendError) and e.retryable)
                        or isinstance(e, TimeoutError | ConnectionError | OSError)
                        for e in errors.values())
        return ChainFailed(f"all backends failed: {detail}", tuple(self.attempts),
                           retryable=retryable, retry_after=min(waits) if waits else None)


class FallbackBackend(WrapperBackend):
    """Tries `backends` in order (see the module docstring); `inner` is the first."""

    def __init__(
        self,
        backends: Sequence[ModelBackend],
        *,
        should_fallback: Callable[[Exception], bool] = default_should_fallback,
        retry_delay: RetryDelay | None = None,
        observe: Observer | None = None,
        describe: Describe | None = None,
        attempt_timeout_s: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        async_sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        name: str | None = None,
    ) -> None:
        if not backends:
            raise BackendError("a fallback chain needs at least one backend", retryable=False)
        super().__init__(backends[0], name=name or "+".join(b.name for b in backends))
        self.backends = list(backends)
        self.should_fallback = should_fallback
        self.retry_delay = retry_delay
        self.observe = observe
        self.describe = describe
        self.attempt_timeout_s = attempt_timeout_s
        self._sleep = sleep
        self._async_sleep = async_sleep

    def planner(self) -> AttemptPlanner:
        return AttemptPlanner(self.backends, should_fallback=self.should_fallback,
                              retry_delay=self.retry_delay, observe=self.observe,
                              describe=self.describe)

    @property
    def capabilities(self) -> Capabilities:
        caps = [b.capabilities for b in self.backends]
        return Capabilities(
            streaming=any(c.streaming for c in caps),
            max_context=max(c.max_context for c in caps),
            tools=any(c.tools for c in caps),
            cost_per_input_token=max(c.cost_per_input_token for c in caps),
            cost_per_output_token=max(c.cost_per_output_token for c in caps),
        )

    def generate(self, request: GenerationRequest) -> Generation:
        plan = self.planner()
        for step in plan:
            try:
                generation = step.backend.generate(request)
            except Exception as exc:
                delay = plan.failed(step, exc)
                if delay:
                    self._sleep(delay)
                continue
            return plan.served(step, generation)
        raise plan.exhausted()

    async def agenerate(self, request: GenerationRequest) -> Generation:
        plan, timeout = self.planner(), self.attempt_timeout_s
        for step in plan:
            try:
                if timeout is None:
                    generation = await step.backend.agenerate(request)
                else:
                    generation = await asyncio.wait_for(step.backend.agenerate(request), timeout)
            except Exception as exc:
                delay = plan.failed(step, exc)
                if delay:
                    await self._async_sleep(delay)
                continue
            return plan.served(step, generation)
        raise plan.exhausted()

    def stream(self, request: GenerationRequest) -> Iterator[StreamChunk]:
        plan = self.planner()
        for step in plan:
            sent, final = 0, None
            try:
                for chunk in step.backend.stream(request):
                    if chunk.finish_reason is not None:
                        final = chunk  # handed on last, with the routing result
                        continue
                    sent += 1
                    yield chunk
            except Exception as exc:
                if sent:  # the client has text already: no silent switch of backend
                    raise plan.broken(step, exc, sent) from exc
                delay = plan.failed(step, exc)
                if delay:
                    self._sleep(delay)
                continue
            yield plan.served_chunk(step, final)
            return
        raise plan.exhausted()

    async def astream(self, request: GenerationRequest) -> AsyncIterator[StreamChunk]:
        plan = self.planner()
        for step in plan:
            sent, final = 0, None
            try:
                async for chunk in step.backend.astream(request):
                    if chunk.finish_reason is not None:
                        final = chunk
                        continue
                    sent += 1
                    yield chunk
            except Exception as exc:
                if sent:
                    raise plan.broken(step, exc, sent) from exc
                delay = plan.failed(step, exc)
                if delay:
                    await self._async_sleep(delay)
                continue
            yield plan.served_chunk(step, final)
            return
        raise plan.exhausted()

    def probe(self) -> ProbeResult:
        start = time.perf_counter()
        results = {b.name: b.probe() for b in self.backends}
        ok = any(r.ok for r in results.values())
        detail = "; ".join(f"{n}: {'ok' if r.ok else r.detail}" for n, r in results.items())
        return ProbeResult(ok, (time.perf_counter() - start) * 1000, detail)

    def close(self) -> None:
        for backend in self.backends:
            closer = getattr(backend, "close", None)
            if callable(closer):
                closer()

    async def aclose(self) -> None:
        for backend in self.backends:
            closer = getattr(backend, "aclose", None)
            if callable(closer):
                await closer()

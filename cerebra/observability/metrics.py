"""Prometheus metrics: a per-app registry and a ModelBackend wrapper that meters generations."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from cerebra.models.base import (
    Generation,
    GenerationRequest,
    ModelBackend,
    StreamChunk,
)
from cerebra.models.wrapper import WrapperBackend


class BackendClock:
    """Seconds spent inside model backends during one HTTP request (for the overhead header).

    A mutable holder in a ContextVar: worker threads get a copy of the context but share
    the holder, so time measured there is seen by the middleware.
    """

    __slots__ = ("seconds",)

    def __init__(self) -> None:
        self.seconds = 0.0


backend_clock: ContextVar[BackendClock | None] = ContextVar("backend_clock", default=None)


def _charge(seconds: float) -> None:
    clock = backend_clock.get()
    if clock is not None:
        clock.seconds += seconds


_LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    """The metrics one server (or one Brain) exposes; its own registry, so apps don't collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "cerebra_http_requests_total",
            "HTTP requests by route, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.request_latency = Histogram(
            "cerebra_http_request_duration_seconds",
            "HTTP request latency by route, method and status",
            ["route", "method", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.tokens = Counter(
            "cerebra_tokens_generated_total",
            "Completion tokens generated, by model",
            ["model"],
            registry=self.registry,
        )
        self.prompt_tokens = Counter(
            "cerebra_prompt_tokens_total",
            "Prompt tokens processed, by model",
            ["model"],
            registry=self.registry,
        )
        self.model_latency = Histogram(
            "cerebra_model_latency_seconds",
            "Time spent in the model backend per generation",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.model_errors = Counter(
            "cerebra_model_errors_total",
            "Generations that raised, by model",
            ["model"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MeteredBackend(WrapperBackend):
    """A ModelBackend that records tokens, latency and errors of the backend it wraps (and
    closes it: a metered model retired by a hot swap is released)."""

    def __init__(self, inner: ModelBackend, metrics: Metrics) -> None:
        super().__init__(inner)
        self.metrics = metrics
        self._children: tuple[Any, Any, Any] | None = None  # labelled once: labels() locks

    def _record(self, gen: Generation, seconds: float) -> None:
        _charge(seconds)
        if self._children is None:
            m, name = self.metrics, self.name
            self._children = (m.model_latency.labels(name), m.tokens.labels(name),
                              m.prompt_tokens.labels(name))
        latency, tokens, prompt_tokens = self._children
        latency.observe(seconds)
        tokens.inc(gen.usage.completion_tokens)
        prompt_tokens.inc(gen.usage.prompt_tokens)

    def generate(self, request: GenerationRequest) -> Generation:
        start = time.perf_counter()
        try:
            gen = self.inner.generate(request)
        except Exception:
            self.metrics.model_errors.labels(self.name).inc()
            raise
        self._record(gen, time.perf_counter() - start)
        return gen

    async def agenerate(self, request: GenerationRequest) -> Generation:
        start = time.perf_counter()
        try:
            gen = await self.inner.agenerate(request)
        except Exception:
            self.metrics.model_errors.labels(self.name).inc()
            raise
        self._record(gen, time.perf_counter() - start)
        return gen

    def _record_chunk(self, chunk: StreamChunk, start: float) -> None:
        if chunk.usage is not None:
            self.metrics.model_latency.labels(self.name).observe(time.perf_counter() - start)
            self.metrics.tokens.labels(self.name).inc(chunk.usage.completion_tokens)
            self.metrics.prompt_tokens.labels(self.name).inc(chunk.usage.prompt_tokens)

    def stream(self, request: GenerationRequest) -> Iterator[StreamChunk]:
        start = time.perf_counter()
        try:
            iterator = iter(self.inner.stream(request))
            while True:
                waited = time.perf_counter()
                try:
                    chunk = next(iterator)
                except StopIteration:
                    break
                _charge(time.perf_counter() - waited)
                self._record_chunk(chunk, start)
                yield chunk
        except Exception:
            self.metrics.model_errors.labels(self.name).inc()
            raise

    async def astream(self, request: GenerationRequest) -> AsyncIterator[StreamChunk]:
        start = time.perf_counter()
        try:
            iterator = aiter(self.inner.astream(request))
            while True:
                waited = time.perf_counter()
                try:
                    chunk = await anext(iterator)
                except StopAsyncIteration:
                    break
                _charge(time.perf_counter() - waited)
                self._record_chunk(chunk, start)
                yield chunk
        except Exception:
            self.metrics.model_errors.labels(self.name).inc()
            raise

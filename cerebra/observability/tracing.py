"""Tracing of the prompt path: the sampling decision, made once at a request's start, and
the spans of a sampled request recorded through an OpenTelemetry TracerProvider owned by
the Brain (never the global one).

`Tracing.begin()` answers `NO_TRACE` — one shared object whose steps do nothing, so an
unsampled request makes no span object at all — or a `Trace`: the request's root span and
its steps (auth, policy, memory recall, render, routing, model call, remember, sinks). The
trace id of the spans is the interaction's trace id: the root span's 128-bit id comes from
`cerebra.ids` (the same CSPRNG ids the API returned before) and its 32 hex digits are what
the ledger records and the response carries. Finished spans go to the provider's
processors: the database (cerebra.observability.trace_store, a background batch) and, when
`tracing.otlp_endpoint` is set, a BatchSpanProcessor with the OTLP/HTTP exporter.

A Trace travels as data: on the Query (`Query.trace`) from the entry point that decided,
on the Brain's prepared request after that. Nothing is read from context variables.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

from cerebra.ids import new_id

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.trace import Span, Tracer
    from sqlalchemy import Engine

    from cerebra.config_observe import TracingSettings
    from cerebra.memory.base import MemoryHit
    from cerebra.models.base import RoutingResult
    from cerebra.observability.trace_store import TraceStore

FORCE_HEADER = "x-cerebra-trace"  # `always`: keep this request's trace whatever the rate
Attr = str | bool | int | float | tuple[str, ...] | tuple[int, ...] | tuple[float, ...]


def forced(header: str | None) -> bool:
    """Whether an `X-Cerebra-Trace` header's value asks to keep the trace."""
    return header is not None and header.strip().lower() == "always"


class _NoStep:
    """The step of an unsampled request: a context manager that records nothing."""

    __slots__ = ()

    def __enter__(self) -> _NoStep:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def set(self, **attributes: Attr) -> None:
        return None

    def update(self, attributes: Mapping[str, Attr]) -> None:
        return None

    def recalled(self, hits: Sequence[MemoryHit]) -> None:
        return None

    def routed(self, routing: RoutingResult | None) -> None:
        return None


NO_STEP = _NoStep()


class NoTrace:
    """The decision "not traced": every method does nothing; one shared instance."""

    __slots__ = ()
    sampled = False
    trace_id: str | None = None

    def step(self, name: str, parent: Step | _NoStep | None = None,
             **attributes: Attr) -> Step | _NoStep:
        return NO_STEP

    def add(self, name: str, start_ns: int, end_ns: int, parent: Step | _NoStep | None = None,
            **attributes: Attr) -> None:
        return None

    def set(self, **attributes: Attr) -> None:
        return None

    def end(self, error: BaseException | None = None) -> None:
        return None

    def ending(self) -> _NoStep:
        return NO_STEP


NO_TRACE = NoTrace()


class Step:
    """One timed step of a sampled request (a span), used as a context manager; an
    exception leaving it marks the span as an error."""

    __slots__ = ("_attributes", "_name", "_parent", "_started", "_trace", "span")

    def __init__(self, trace: Trace, name: str, parent: Step | None,
                 attributes: dict[str, Attr]) -> None:
        self._trace = trace
        self._name = name
        self._parent = parent
        self._attributes = attributes
        self.span: Span | None = None
        self._started = 0

    def __enter__(self) -> Step:
        self._started = now_ns()
        self.span = self._trace._start(self._name, self._parent, self._attributes,
                                       self._started)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.span is not None:
            _close(self.span, error)

    def set(self, **attributes: Attr) -> None:
        if self.span is not None:
            self.span.set_attributes(attributes)

    def update(self, attributes: Mapping[str, Attr]) -> None:
        if self.span is not None:
            self.span.set_attributes(attributes)

    def recalled(self, hits: Sequence[MemoryHit]) -> None:
        """The memories a recall found, with each signal's value."""
        if self.span is not None:
            self.span.set_attributes(recall_attributes(hits))

    def routed(self, routing: RoutingResult | None) -> None:
        """How a router or fallback chain found the model that answered, under this step."""
        if self.span is not None and routing is not None:
            _record_routing(self._trace, self, self._started, routing)


class _Ending:
    """Ends its trace with the error that leaves the block (a request that failed)."""

    __slots__ = ("_trace",)

    def __init__(self, trace: Trace) -> None:
        self._trace = trace

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        if error is not None:
            self._trace.end(error)


class Trace:
    """The spans of one sampled request under its root; at most `max_spans` of them (the
    rest are counted on the root as `cerebra.dropped_spans`)."""

    sampled = True

    def __init__(self, tracer: Tracer, name: str, max_spans: int,
                 start_ns: int | None = None) -> None:
        from opentelemetry import trace as otel

        self._tracer = tracer
        self._max = max_spans
        self._count = 1
        self.dropped = 0
        self.root = tracer.start_span(name, kind=otel.SpanKind.SERVER, start_time=start_ns)
        self._context = otel.set_span_in_context(self.root)
        self.trace_id = format(self.root.get_span_context().trace_id, "032x")
        self._ended = False

    def _start(self, name: str, parent: Step | None, attributes: Mapping[str, Attr],
               start_ns: int | None) -> Span | None:
        if self._count >= self._max:
            self.dropped += 1
            return None
        self._count += 1
        context = self._context
        if parent is not None and parent.span is not None:
            from opentelemetry import trace as otel

            context = otel.set_span_in_context(parent.span)
        return self._tracer.start_span(name, context=context, attributes=attributes,
                                       start_time=start_ns)

    def step(self, name: str, parent: Step | _NoStep | None = None,
             **attributes: Attr) -> Step | _NoStep:
        """A step to time with `with`: a child of `parent` (a step) or of the root."""
        return Step(self, name, parent if isinstance(parent, Step) else None, attributes)

    def add(self, name: str, start_ns: int, end_ns: int, parent: Step | _NoStep | None = None,
            **attributes: Attr) -> None:
        """A step timed already (wall-clock ns): authentication, a router's attempts."""
        span = self._start(name, parent if isinstance(parent, Step) else None, attributes,
                           start_ns)
        if span is not None:
            span.end(end_time=max(end_ns, start_ns))

    def set(self, **attributes: Attr) -> None:
        """Attributes of the whole request (on the root span)."""
        self.root.set_attributes(attributes)

    def end(self, error: BaseException | None = None) -> None:
        """End the root span (once): the trace is complete and goes to the processors."""
        if self._ended:
            return
        self._ended = True
        if self.dropped:
            self.root.set_attribute("cerebra.dropped_spans", self.dropped)
        _close(self.root, error)

    def ending(self) -> _Ending:
        """`with trace.ending():` around a request: an error leaving it ends the trace."""
        return _Ending(self)


def _close(span: Span, error: BaseException | None) -> None:
    from opentelemetry.trace import Status, StatusCode

    if error is None:
        span.set_status(Status(StatusCode.OK))
    else:
        span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        span.set_attribute("error.type", type(error).__name__)
    span.end()


def recall_attributes(hits: Sequence[MemoryHit]) -> dict[str, Attr]:
    """The memories recalled: id, score and each signal's value, per hit."""
    out: dict[str, Attr] = {"memory.count": len(hits)}
    for i, hit in enumerate(hits):
        out[f"memory.{i}.id"] = hit.memory.uid
        out[f"memory.{i}.score"] = round(hit.score, 6)
        for name, value in hit.signals.items():
            out[f"memory.{i}.signal.{name}"] = round(float(value), 6)
    return out


def _record_routing(trace: Trace, call: Step, start_ns: int, routing: RoutingResult) -> None:
    """The routing decision under the model call: strategy, choice, reason, and each
    attempt (laid out one after another from the call's start, as they ran)."""
    end = now_ns()
    chosen: dict[str, Attr] = {
        "route.strategy": routing.strategy, "route.chosen": routing.chosen,
        "route.served_by": routing.served_by or "", "route.reason": routing.reason,
        "route.decision_id": routing.decision_id or "", "route.attempts": len(routing.attempts)}
    with trace.step("route", parent=call, **chosen) as decision:
        at = start_ns
        for attempt in routing.attempts:
            at += int(attempt.waited_s * 1e9)
            took = int(attempt.latency_ms * 1e6)
            tried: dict[str, Attr] = {"model.name": attempt.backend, "attempt.ok": attempt.ok,
                                      "attempt.error": attempt.error[:500]}
            trace.add("model.attempt", at, min(at + took, end), parent=decision, **tried)
            at += took


def _ids() -> Any:
    """The provider's id generator: trace ids from cerebra.ids (the API's ids), span ids
    from the OS's CSPRNG; never zero (an invalid id in OpenTelemetry)."""
    from opentelemetry.sdk.trace.id_generator import IdGenerator

    class CerebraIds(IdGenerator):
        def generate_trace_id(self) -> int:
            return int(new_id(), 16) or 1

        def generate_span_id(self) -> int:
            return secrets.randbits(64) or 1

    return CerebraIds()


class Tracing:
    """The Brain's tracer: sampling, the TracerProvider and its processors. `close()` flushes
    the database writer and the OTLP exporter."""

    def __init__(self, settings: TracingSettings, engine: Engine) -> None:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import SpanLimits, TracerProvider

        from cerebra.observability.trace_store import TraceStore

        self.settings = settings
        self.rate = settings.sample_rate
        self.provider: TracerProvider = TracerProvider(
            resource=Resource.create({"service.name": "cerebra"}),
            id_generator=_ids(),
            span_limits=SpanLimits(max_span_attributes=512),
            shutdown_on_exit=False,  # the Brain closes it
        )
        self.store: TraceStore = TraceStore(engine, keep_days=settings.keep_days)
        # duck-typed: subclassing SpanProcessor would import the SDK wherever traces are read
        self.provider.add_span_processor(cast("SpanProcessor", self.store))
        if settings.otlp_endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.trace.export import BatchSpanProcessor

            self.provider.add_span_processor(
                BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_endpoint)))
        self.tracer: Tracer = self.provider.get_tracer("cerebra")
        self._closed = False

    def begin(self, name: str = "cerebra.request", *, force: bool = False,
              start_ns: int | None = None) -> Trace | NoTrace:
        """The decision for one request, made once: a Trace (kept) or NO_TRACE."""
        rate = self.rate
        if self._closed or not (force or rate >= 1.0 or (rate > 0.0 and random.random() < rate)):
            return NO_TRACE
        trace = Trace(self.tracer, name, self.settings.max_spans, start_ns)
        # OTEL_SDK_DISABLED makes the SDK hand out invalid spans (trace id 0): nothing kept
        return trace if trace.root.get_span_context().is_valid else NO_TRACE

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Every finished trace in the database and handed to the exporter."""
        return self.provider.force_flush(int(timeout_s * 1000))

    def settle(self, timeout_s: float = 30.0) -> bool:
        """Every finished trace in the database (reads call it: a caller sees its own)."""
        return self.store.force_flush(int(timeout_s * 1000))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.provider.shutdown()


def build_tracing(settings: TracingSettings, engine: Engine) -> Tracing | None:
    """The Brain's Tracing, or None when `tracing.enabled` is off."""
    return Tracing(settings, engine) if settings.enabled else None


def now_ns() -> int:
    """Wall-clock nanoseconds, the clock span times are in."""
    return time.time_ns()

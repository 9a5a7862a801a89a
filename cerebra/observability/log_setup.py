"""The server's log machinery, attached at start-up and detached at shutdown: the log store's
handler (`logs.keep`, `logs.level_kept`), the memory handler (`logs.memory_agent`,
`logs.memory_level`) on the root logger, and what notes a request's trace id into its log
scope (cerebra.observability.log_scope): a sampled request's as its root span starts (a span
processor on the Brain's tracer provider), so every later line of the request carries it,
and every interaction's as it finishes (a Brain sink; an unsampled request's id is made
then)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.trace import SpanProcessor

from cerebra.observability.log_scope import TraceNoteSink, note_trace

if TYPE_CHECKING:
    from cerebra.brain import Brain
    from cerebra.config import Settings
    from cerebra.observability.log_memory import MemoryLogHandler
    from cerebra.observability.log_store import LogStore


class _RootSpanNoter(SpanProcessor):
    """A span processor: a trace's root span starting in a request notes its trace id (the
    answer's, cerebra.observability.tracing) into the request's log scope."""

    def __init__(self) -> None:
        self.active = True  # the provider keeps its processors: closing turns this one off

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        if self.active and span.parent is None:
            note_trace(format(span.get_span_context().trace_id, "032x"))

    def shutdown(self) -> None:
        self.active = False


class LogsRuntime:
    """What `attach_logs` added; `close()` takes it all away again."""

    def __init__(self, brain: Brain, store: LogStore | None,
                 handlers: list[logging.Handler], sink: TraceNoteSink,
                 noter: _RootSpanNoter | None = None) -> None:
        self.brain = brain
        self.store = store
        self.handlers = handlers
        self.sink = sink
        self.noter = noter

    @property
    def memory_handler(self) -> MemoryLogHandler | None:
        from cerebra.observability.log_memory import MemoryLogHandler

        return next((h for h in self.handlers if isinstance(h, MemoryLogHandler)), None)

    def flush(self, timeout: float = 10.0) -> bool:
        """Read your writes: what was logged so far is in the table (and in memory)."""
        done = self.store.flush(timeout) if self.store is not None else True
        memory = self.memory_handler
        if memory is not None:
            done = memory.drain.flush(timeout) and done
        return done

    def close(self) -> None:
        root = logging.getLogger()
        for handler in self.handlers:
            root.removeHandler(handler)
            handler.close()
        if self.store is not None:
            self.store.close()
        if self.sink in self.brain.sinks:
            self.brain.sinks.remove(self.sink)
        if self.noter is not None:
            self.noter.active = False


def attach_logs(brain: Brain, settings: Settings) -> LogsRuntime:
    cfg = settings.logs
    handlers: list[logging.Handler] = []
    store = None
    if cfg.keep > 0:
        from cerebra.observability.log_store import LogStore

        store = LogStore(brain.engine, keep=cfg.keep)
        handlers.append(store.handler(cfg.level_kept))
    if cfg.memory_agent:
        from cerebra.observability.log_memory import MemoryLogHandler

        handlers.append(MemoryLogHandler(brain.memory, cfg.memory_agent, cfg.memory_level))
    root = logging.getLogger()
    for handler in handlers:
        root.addHandler(handler)
    sink = TraceNoteSink()
    brain.sinks.insert(1, sink)  # after the ledger, before audit and the others
    noter = None
    tracing = getattr(brain, "tracing", None)
    if tracing is not None:
        noter = _RootSpanNoter()
        tracing.provider.add_span_processor(noter)
    return LogsRuntime(brain, store, handlers, sink, noter)

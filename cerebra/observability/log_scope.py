"""The request's log scope: every log line written while the server handles a request carries
the request's trace id and tenant.

`LogScopeMiddleware` (pure ASGI, one ContextVar set per request) opens a `LogScope` holding
the request's ASGI `state`; `ScopeFilter`, on the handlers that write lines (stderr JSON, the
log store, the memory handler), stamps each record with `tenant_id` — read lazily from the
RequestContext that authentication leaves in that state (cerebra.server.auth), so no line
pays for it until it is logged — and `trace_id`, noted into the scope as soon as the
request has one (`note_trace`: a sampled request's root span starting, an interaction
finishing: cerebra.observability.log_setup). A record's own `extra={"trace_id": …,
"tenant_id": …}` wins: code that holds a RequestContext passes it typed, where it logs.
Outside a request (start-up, background jobs without their own extra) a record is left as
it was: a system line.

Threads started with a copied context (`asyncio.to_thread`, FastAPI's thread pool) share the
request's scope object, so a trace id noted there is seen by the request's later lines.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

_STATE_KEY = "cerebra_context"  # where cerebra.server.auth keeps the request's RequestContext


class LogScope:
    """What one request's log lines carry; filled as the request learns it."""

    __slots__ = ("state", "tenant_id", "trace_id")

    def __init__(self, state: dict[str, Any] | None = None, *, tenant_id: str = "",
                 trace_id: str = "") -> None:
        self.state = state  # the ASGI request state (the RequestContext lands there)
        self.tenant_id = tenant_id
        self.trace_id = trace_id

    def tenant(self) -> str:
        if self.tenant_id:
            return self.tenant_id
        context = self.state.get(_STATE_KEY) if self.state is not None else None
        tenant = getattr(context, "tenant_id", "")
        if tenant:
            self.tenant_id = tenant
        return tenant if isinstance(tenant, str) else ""


_current: ContextVar[LogScope | None] = ContextVar("cerebra_log_scope", default=None)


def current() -> LogScope | None:
    return _current.get()


def open_scope(scope: LogScope) -> Any:
    """Make `scope` the current one (a token for `close_scope`)."""
    return _current.set(scope)


def close_scope(token: Any) -> None:
    _current.reset(token)


def note_trace(trace_id: str) -> None:
    """The current request's trace id is now known: its later lines carry it."""
    scope = _current.get()
    if scope is not None and trace_id:
        scope.trace_id = trace_id


class ScopeFilter(logging.Filter):
    """Stamps `trace_id` and `tenant_id` from the current request's scope on a record that
    does not carry its own; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        scope = _current.get()
        if scope is None:
            return True
        if not getattr(record, "tenant_id", None):
            tenant = scope.tenant()
            if tenant:
                record.tenant_id = tenant
        if not getattr(record, "trace_id", None) and scope.trace_id:
            record.trace_id = scope.trace_id
        return True


SCOPE_FILTER = ScopeFilter()


class LogScopeMiddleware:
    """Opens a LogScope around each HTTP request (one ContextVar set and reset)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        token = _current.set(LogScope(state if isinstance(state, dict) else None))
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(token)


class TraceNoteSink:
    """A Brain sink (cerebra.sinks) that notes each finished interaction's trace id into the
    current request's log scope; it stores nothing."""

    name = "log-scope"

    def receive(self, interaction: Any) -> None:
        scope = _current.get()
        if scope is None:
            return
        scope.trace_id = interaction.answer.trace_id or scope.trace_id
        if not scope.tenant_id:  # a route that built its context itself (the direct chat)
            scope.tenant_id = getattr(interaction.query.context, "tenant_id", "") or ""

    def close(self) -> None:
        return None

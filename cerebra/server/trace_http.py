"""A server request's trace: the sampling decision made once at its start (a header
`X-Cerebra-Trace: always` keeps it whatever the rate), its root begun when authentication
began and the authentication timed as its first step. Authentication (cerebra.server.auth,
and the direct chat path) leaves its start and end on the request's state; the route hands
the decision to the Brain on the Query (`Query.trace`)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from starlette.requests import Request

from cerebra.observability.tracing import FORCE_HEADER, NO_TRACE, NoTrace, Trace, forced

if TYPE_CHECKING:
    from cerebra.brain import Brain

AUTH_NS = "cerebra_auth_ns"  # request.state: (start, end) of authentication, wall-clock ns


def timed_auth(request: Request, start_ns: int) -> None:
    """Note on the request that authentication ran from `start_ns` until now."""
    setattr(request.state, AUTH_NS, (start_ns, time.time_ns()))


def begin_trace(request: Request, brain: Brain, name: str) -> Trace | NoTrace:
    """The request's trace (NO_TRACE when not sampled or tracing is off)."""
    tracing = brain.tracing
    if tracing is None:
        return NO_TRACE
    auth: tuple[int, int] | None = getattr(request.state, AUTH_NS, None)
    trace = tracing.begin(name, force=forced(request.headers.get(FORCE_HEADER)),
                          start_ns=None if auth is None else auth[0])
    if auth is not None:
        trace.add("auth", auth[0], auth[1])
    return trace

"""ASGI middleware: request metrics by route template and status, and the overhead header.

`X-Cerebra-Overhead-Ms` on every response is the server's own time from the request reaching
the ASGI app to the response starting, less the time spent inside model backends.
`install_metrics()` puts the middleware outside everything Starlette and FastAPI build
(error handling, body limits, user middleware, routing, dependencies, validation), so the
header times the whole application path; only uvicorn's HTTP parsing and socket writes are
outside it (docs/performance.md). Pure ASGI (no BaseHTTPMiddleware) so it adds
microseconds, not milliseconds.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client.metrics import Counter, Histogram
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cerebra.observability.metrics import BackendClock, Metrics, backend_clock

OVERHEAD_HEADER = b"x-cerebra-overhead-ms"
# the method label's values: any other token a client sends (h11 accepts any) is "other",
# so a client cannot grow the metric's label set
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        # labelled children by (route, method, status): .labels() takes a lock and builds a
        # key on every call; the set of routes is small and fixed
        self._children: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}

    def _observe(self, labels: tuple[str, str, str], seconds: float) -> None:
        children = self._children.get(labels)
        if children is None:
            children = self._children[labels] = (
                self.metrics.requests.labels(*labels),
                self.metrics.request_latency.labels(*labels),
            )
        children[0].inc()
        children[1].observe(seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        clock = BackendClock()
        token = backend_clock.set(clock)

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                overhead_ms = (time.perf_counter() - start - clock.seconds) * 1000
                headers = list(message.get("headers", ()))
                headers.append((OVERHEAD_HEADER, b"%.3f" % max(overhead_ms, 0.0)))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            backend_clock.reset(token)
            route: Any = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            self._observe((path, method if method in METHODS else "other", str(status)),
                          time.perf_counter() - start)


def install_metrics(app: Starlette, metrics: Metrics) -> None:
    """Wrap the app's whole middleware stack (built on its first request) in
    MetricsMiddleware, outside Starlette's ServerErrorMiddleware, so the overhead header and
    the request metrics cover every layer of the application, a 500 included."""
    build = app.build_middleware_stack

    def build_with_metrics() -> ASGIApp:
        return MetricsMiddleware(build(), metrics)

    app.build_middleware_stack = build_with_metrics  # type: ignore[method-assign]

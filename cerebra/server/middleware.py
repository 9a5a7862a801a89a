"""ASGI middleware: request metrics by route template and status, and the overhead header.

`X-Cerebra-Overhead-Ms` on every response is the server's own time until the response
started, less the time spent inside model backends. Pure ASGI (no BaseHTTPMiddleware) so it
adds microseconds, not milliseconds.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cerebra.observability.metrics import BackendClock, Metrics, backend_clock

OVERHEAD_HEADER = b"x-cerebra-overhead-ms"


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 500}
        clock = BackendClock()
        token = backend_clock.set(clock)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                overhead_ms = (time.perf_counter() - start - clock.seconds) * 1000
                headers = list(message.get("headers", ()))
                headers.append((OVERHEAD_HEADER, f"{max(overhead_ms, 0.0):.3f}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            backend_clock.reset(token)
            route: Any = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            labels = (path, scope.get("method", ""), str(status["code"]))
            self.metrics.requests.labels(*labels).inc()
            self.metrics.request_latency.labels(*labels).observe(time.perf_counter() - start)

"""Faults a fake upstream can inject, queued per model name, and the request log.

Kinds: "timeout" (sleep past the client's timeout, then answer), "429" (with Retry-After),
"500", "529" (Anthropic's overloaded), "malformed_json", "broken_stream" (the connection
is cut after a few chunks), "truncated_stream" (the stream ends cleanly but early).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

Kind = Literal["timeout", "429", "500", "529", "malformed_json", "broken_stream",
               "truncated_stream"]
ANY_MODEL = "*"


class ConnectionCut(RuntimeError):
    """Raised inside a streaming body: uvicorn drops the connection mid-reply."""


@dataclass(frozen=True)
class Fault:
    kind: Kind
    retry_after: float | None = None
    sleep_s: float = 1.5
    after_chunks: int = 2


@dataclass
class FaultPlan:
    """Faults to apply to the next requests, per model; and every request seen."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    _faults: dict[str, list[Fault]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: Kind, *, model: str = ANY_MODEL, times: int = 1, **options: Any) -> None:
        with self._lock:
            self._faults.setdefault(model, []).extend([Fault(kind, **options)] * times)

    def take(self, model: str) -> Fault | None:
        with self._lock:
            for key in (model, ANY_MODEL):
                queue = self._faults.get(key)
                if queue:
                    return queue.pop(0)
        return None

    def pending(self) -> int:
        with self._lock:
            return sum(len(q) for q in self._faults.values())

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self.requests.clear()

    def record(self, request: Request, body: Any) -> None:
        with self._lock:
            self.requests.append({
                "path": request.url.path,
                "body": body,
                "headers": dict(request.headers),
                "client_port": request.client.port if request.client else None,
            })

    def for_model(self, model: str) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests
                    if isinstance(r["body"], dict) and r["body"].get("model") == model]


async def before_reply(fault: Fault | None, error_body: Callable[[str, str], dict[str, Any]],
                       stream: bool) -> Response | None:
    """Apply a fault that acts before any reply byte; a Response replaces the reply."""
    if fault is None:
        return None
    if fault.kind == "timeout":
        await asyncio.sleep(fault.sleep_s)
        return None
    if fault.kind == "429":
        headers = {} if fault.retry_after is None else {"retry-after": f"{fault.retry_after:g}"}
        return JSONResponse(error_body("rate_limit_error", "Rate limit reached"), 429, headers)
    if fault.kind in ("500", "529"):
        kind = "overloaded_error" if fault.kind == "529" else "api_error"
        return JSONResponse(error_body(kind, "The server had an error"), int(fault.kind))
    if fault.kind == "malformed_json" and not stream:
        return Response(b'{"id": "broken", "choices": [{"message": ', 200,
                        media_type="application/json")
    if fault.kind == "broken_stream" and not stream:
        async def half_body() -> AsyncIterator[bytes]:
            yield b'{"id": "cut", "object": "chat.completion", "choices": ['
            await asyncio.sleep(0.01)
            raise ConnectionCut("fault: connection cut mid-body")

        return StreamingResponse(half_body(), media_type="application/json")
    return None


async def stream_with_fault(events: list[bytes], fault: Fault | None) -> AsyncIterator[bytes]:
    """Serve SSE `events` (already encoded), breaking them as the fault says."""
    if fault is not None and fault.kind == "malformed_json":
        yield events[0]
        yield b'data: {"id": "x", "choices": [{"delta": {"content": "oops"\n\n'
        return
    cut = fault.after_chunks if fault is not None and fault.kind in (
        "broken_stream", "truncated_stream") else None
    for index, event in enumerate(events):
        if cut is not None and index >= cut:
            if fault is not None and fault.kind == "broken_stream":
                raise ConnectionCut("fault: connection cut mid-stream")
            return
        yield event
        await asyncio.sleep(0)

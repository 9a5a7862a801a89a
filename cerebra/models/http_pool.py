"""One pooled HTTP connection set per remote backend: JSON calls and server-sent events.

Each `HttpPool` owns one `httpx.Client` (thread-safe, shared by every sync caller) and, for
async callers, a pool of lean HTTP/1.1 connections per event loop (see `http_lean`: a
fraction of the Python per request of httpx's async client or aiohttp's) — or one
`httpx.AsyncClient` per loop when an async httpx transport is given (tests), a proxy is
configured in the environment, or httptools is missing. All keep-alive, all built on first
use. Every failure leaves as a Cerebra error (see `http_errors`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Generator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from cerebra.models import http_lean
from cerebra.models.http_errors import decode_json, error_from_response, error_from_transport
from cerebra.models.loop_local import for_running_loop


@dataclass(frozen=True)
class SSEEvent:
    event: str
    data: str


class SSEDecoder:
    """Incremental server-sent-events parser (WHATWG rules) fed one line at a time."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []

    def feed(self, line: str) -> SSEEvent | None:
        if not line:
            return self.flush()
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        return None

    def flush(self) -> SSEEvent | None:
        """Dispatch the pending event, if any (also called at the end of the stream)."""
        if not self._data and not self._event:
            return None
        event = SSEEvent(self._event or "message", "\n".join(self._data))
        self._event, self._data = "", []
        return event


@dataclass(frozen=True)
class PoolConfig:
    """Connection settings shared by every remote backend."""

    timeout_s: float = 60.0  # read/write: the longest wait for a reply or the next chunk
    connect_timeout_s: float = 5.0
    max_connections: int = 100
    max_keepalive: int = 20
    keepalive_expiry_s: float = 30.0

    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(
            self.timeout_s, connect=self.connect_timeout_s, pool=self.connect_timeout_s
        )

    def limits(self) -> httpx.Limits:
        return httpx.Limits(
            max_connections=self.max_connections,
            max_keepalive_connections=self.max_keepalive,
            keepalive_expiry=self.keepalive_expiry_s,
        )


class HttpPool:
    """A base URL, default headers and the pooled clients that talk to it."""

    def __init__(
        self,
        base_url: str,
        *,
        backend: str,
        headers: Mapping[str, str] | None = None,
        config: PoolConfig | None = None,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.backend = backend
        self.headers = dict(headers or {})
        self.config = config or PoolConfig()
        self._transport = transport
        self._async_transport = async_transport
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None
        self._async: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}
        self._lean: http_lean.LeanSessions | None = None
        if async_transport is None and http_lean.available(self.base_url):
            self._lean = http_lean.LeanSessions(
                self.base_url,
                backend=backend,
                headers=self.headers,
                timeout_s=self.config.timeout_s,
                connect_timeout_s=self.config.connect_timeout_s,
                max_connections=self.config.max_connections,
                keepalive_s=self.config.keepalive_expiry_s,
            )

    # -- clients ---------------------------------------------------------------------------
    def client(self) -> httpx.Client:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = httpx.Client(
                        base_url=self.base_url,
                        headers=self.headers,
                        timeout=self.config.timeout(),
                        limits=self.config.limits(),
                        transport=self._transport,
                    )
        return self._client

    def async_client(self) -> httpx.AsyncClient:
        return for_running_loop(self._async, self._lock, lambda: httpx.AsyncClient(
            base_url=self.base_url,
            headers=self.headers,
            timeout=self.config.timeout(),
            limits=self.config.limits(),
            transport=self._async_transport,
        ))

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        self.close()
        if self._lean is not None:
            await self._lean.aclose()
        loop = asyncio.get_running_loop()
        client = self._async.pop(loop, None)
        if client is not None:
            await client.aclose()

    # -- JSON ------------------------------------------------------------------------------
    def post_json(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        try:
            response = self.client().post(path, json=body)
        except httpx.HTTPError as exc:
            raise error_from_transport(exc, self.backend) from exc
        if response.status_code >= 400:
            raise error_from_response(response, self.backend)
        return decode_json(response.content, self.backend)

    async def apost_json(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        if self._lean is not None:
            return await self._lean.post_json(path, body)
        try:
            response = await self.async_client().post(path, json=body)
        except httpx.HTTPError as exc:
            raise error_from_transport(exc, self.backend) from exc
        if response.status_code >= 400:
            raise error_from_response(response, self.backend)
        return decode_json(response.content, self.backend)

    # -- server-sent events ----------------------------------------------------------------
    def post_events(self, path: str, body: Mapping[str, Any]) -> Generator[SSEEvent, None, None]:
        decoder = SSEDecoder()
        try:
            with self.client().stream("POST", path, json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    raise error_from_response(response, self.backend)
                for line in response.iter_lines():
                    event = decoder.feed(line)
                    if event is not None:
                        yield event
        except httpx.HTTPError as exc:
            raise error_from_transport(exc, self.backend, streaming=True) from exc
        last = decoder.flush()
        if last is not None:
            yield last

    async def apost_events(
        self, path: str, body: Mapping[str, Any]
    ) -> AsyncGenerator[SSEEvent, None]:
        decoder = SSEDecoder()
        if self._lean is not None:
            async for line in self._lean.post_lines(path, body):
                event = decoder.feed(line)
                if event is not None:
                    yield event
            last = decoder.flush()
            if last is not None:
                yield last
            return
        try:
            async with self.async_client().stream("POST", path, json=body) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise error_from_response(response, self.backend)
                async for line in response.aiter_lines():
                    event = decoder.feed(line)
                    if event is not None:
                        yield event
        except httpx.HTTPError as exc:
            raise error_from_transport(exc, self.backend, streaming=True) from exc
        last = decoder.flush()
        if last is not None:
            yield last

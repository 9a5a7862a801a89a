"""The async half of HttpPool on aiohttp: one keep-alive ClientSession per event loop.

Why aiohttp here: measured against the same loopback upstream, an httpx.AsyncClient POST
took 0.54 ms at the median and an aiohttp one 0.14 ms, and on the gateway's hot path that
difference is most of its overhead budget. Sync callers keep httpx (see http_pool).
Errors leave as the same Cerebra errors as the httpx path (via http_errors).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Mapping
from typing import TYPE_CHECKING, Any

from cerebra.json_codec import dumps
from cerebra.models.http_errors import (
    UpstreamError,
    decode_json,
    error_from_status,
    transport_error,
)

if TYPE_CHECKING:
    import aiohttp


def available() -> bool:
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        return False
    return True


def _transport_error(exc: BaseException, backend: str, *, streaming: bool) -> UpstreamError:
    import aiohttp

    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        what = "timed out" + (" waiting for the next stream chunk" if streaming else "")
        return transport_error(backend, f"upstream {what}", exc)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        what = "stream broken mid-way" if streaming else "connection broken mid-reply"
        return transport_error(backend, what, exc)
    return transport_error(backend, "cannot reach upstream", exc)


class AioSessions:
    """aiohttp sessions for one base URL, created per event loop on first use."""

    def __init__(
        self,
        base_url: str,
        *,
        backend: str,
        headers: Mapping[str, str],
        timeout_s: float,
        connect_timeout_s: float,
        max_connections: int,
        keepalive_s: float,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.backend = backend
        self.headers = {**headers, "content-type": "application/json"}
        self._timeout = (timeout_s, connect_timeout_s)
        self._max_connections = max_connections
        self._keepalive_s = keepalive_s
        self._sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}
        self._lock = threading.Lock()

    def session(self) -> aiohttp.ClientSession:
        import aiohttp

        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            with self._lock:
                for old in [lp for lp in self._sessions if lp.is_closed()]:
                    del self._sessions[old]
                read, connect = self._timeout
                session = self._sessions[loop] = aiohttp.ClientSession(
                    headers=self.headers,
                    timeout=aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read),
                    connector=aiohttp.TCPConnector(
                        limit=self._max_connections, keepalive_timeout=self._keepalive_s
                    ),
                    auto_decompress=True,
                )
        return session

    async def aclose(self) -> None:
        session = self._sessions.pop(asyncio.get_running_loop(), None)
        if session is not None:
            await session.close()

    async def post_json(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        import aiohttp

        try:
            data = dumps(body)  # JSON, as the session's headers say
            async with self.session().post(self.base_url + path, data=data) as response:
                content = await response.read()
                status, headers = response.status, response.headers
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _transport_error(exc, self.backend, streaming=False) from exc
        if status >= 400:
            raise error_from_status(status, content, headers, self.backend)
        return decode_json(content, self.backend)

    async def post_lines(self, path: str, body: Mapping[str, Any]) -> AsyncGenerator[str, None]:
        """The reply's lines (without line endings) as they arrive."""
        import aiohttp

        try:
            data = dumps(body)  # JSON, as the session's headers say
            async with self.session().post(self.base_url + path, data=data) as response:
                if response.status >= 400:
                    content = await response.read()
                    raise error_from_status(
                        response.status, content, response.headers, self.backend
                    )
                pending = b""
                async for piece in response.content.iter_any():
                    pending += piece
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        yield line.rstrip(b"\r").decode("utf-8", "replace")
                if pending:
                    yield pending.rstrip(b"\r").decode("utf-8", "replace")
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _transport_error(exc, self.backend, streaming=True) from exc

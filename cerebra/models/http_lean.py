"""The async half of HttpPool: POSTs to one base URL over keep-alive HTTP/1.1 connections
(`http_wire`) on the running event loop, a bounded pool per loop, failures as Cerebra errors.

Why not aiohttp, which this replaced on the gateway's hot path: against the same loopback
upstream, sequential POSTs took 0.29-0.33 ms at the median through an aiohttp session and
0.14-0.18 ms through a connection like this one (pyreqwest, a Rust client, 0.24-0.31 ms);
the difference is Python the gateway runs per request (docs/performance.md). What an
upstream model server needs is small: POST a JSON body, read a JSON reply or a stream of
lines, over http or https (the system's trust store and certifi's), keep-alive, chunked,
sized or read-to-close bodies, gzip or deflate, a connect timeout and a read timeout between
arrivals. No proxies (where the environment sets one, HttpPool uses httpx's async client,
as its sync path does; aiohttp's session had ignored them) and no redirects (an API endpoint
that redirects a POST is misconfigured; its 3xx is reported as it is).

A pooled connection is reused only if its last reply was complete and keep-alive, it has
not been closed by the server, and it was idle less than `keepalive_s`. A request is never
sent twice: a POST may not be idempotent, and the router retries what is worth retrying.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import AsyncGenerator, Mapping
from typing import Any
from urllib.parse import urlsplit

from cerebra.json_codec import dumps
from cerebra.models.http_errors import (
    UpstreamError,
    decode_json,
    error_from_status,
    transport_error,
)
from cerebra.models.http_wire import WireConnection
from cerebra.models.loop_local import for_running_loop

# set by the pool itself for every request; a caller's value would contradict the wire
_OWN_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection",
                          "content-type", "accept-encoding"})


def available(base_url: str) -> bool:
    """Whether this client may carry requests to `base_url`: httptools is installed and no
    proxy is configured for its scheme in the environment (HTTP(S)_PROXY, ALL_PROXY). This
    client speaks to no proxy; where one is set, httpx's async client applies it (and its
    NO_PROXY rules) exactly as the sync path's httpx client does."""
    try:
        import httptools  # noqa: F401
    except ImportError:
        return False
    from urllib.request import getproxies

    proxies = getproxies()
    return not (proxies.get(urlsplit(base_url).scheme) or proxies.get("all"))


class _CannotConnect(OSError):
    """Connecting (TCP or TLS) failed or timed out."""


def _error(exc: BaseException, backend: str, *, streaming: bool) -> UpstreamError:
    if isinstance(exc, _CannotConnect):
        return transport_error(backend, "cannot reach upstream", exc.__cause__ or exc)
    if isinstance(exc, TimeoutError):
        what = "timed out" + (" waiting for the next stream chunk" if streaming else "")
        return transport_error(backend, f"upstream {what}", exc)
    what = "stream broken mid-way" if streaming else "connection broken mid-reply"
    return transport_error(backend, what, exc)


def _header_bytes(headers: Mapping[str, str]) -> bytes:
    lines = []
    for name, value in headers.items():
        if not name or any(c in name for c in " \t\r\n:") or any(c in value for c in "\r\n\0"):
            raise ValueError(f"header {name!r}: a name or value that cannot go on the wire")
        lines.append(f"{name}: {value}\r\n")
    return "".join(lines).encode("latin-1")


def _ssl_context() -> ssl.SSLContext:
    context = ssl.create_default_context()  # the system's store; SSL_CERT_FILE/DIR honoured
    try:
        import certifi
    except ImportError:  # pragma: no cover - httpx brings certifi
        return context
    context.load_verify_locations(certifi.where())  # as the sync (httpx) path trusts
    return context


class _LoopPool:
    """The connections of one event loop: idle ones (most recent last) and a slot per open."""

    def __init__(self, limit: int) -> None:
        self.idle: list[WireConnection] = []
        self.slots = asyncio.Semaphore(limit)
        self.closed = False


class LeanSessions:
    """Keep-alive POSTs to one base URL, a connection pool per event loop (built on first
    use); the same interface the gateway had from aiohttp's sessions."""

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
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url {base_url!r}: not an http(s) URL with a host")
        self.backend = backend
        self._tls = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._tls else 80)
        self._prefix = parts.path.rstrip("/")
        host = f"[{self._host}]" if ":" in self._host else self._host
        if parts.port is not None and parts.port != (443 if self._tls else 80):
            host += f":{parts.port}"
        own = {"host": host, "content-type": "application/json",
               "accept-encoding": "gzip, deflate"}
        extra = {k: v for k, v in headers.items() if k.lower() not in _OWN_HEADERS}
        self._fixed = _header_bytes({**own, **extra})
        self._timeout_s = timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._max_connections = max_connections
        self._keepalive_s = keepalive_s
        self._heads: dict[str, bytes] = {}
        self._pools: dict[asyncio.AbstractEventLoop, _LoopPool] = {}
        self._lock = threading.Lock()
        self._ssl: ssl.SSLContext | None = None

    # -- the pool --------------------------------------------------------------------------
    def _pool(self) -> _LoopPool:
        return for_running_loop(self._pools, self._lock,
                                lambda: _LoopPool(self._max_connections))

    async def _connection(self, pool: _LoopPool) -> WireConnection:
        """An idle connection still fit for use, or a new one."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        while pool.idle:
            conn = pool.idle.pop()
            if not conn.closed and now - conn.idle_since < self._keepalive_s:
                return conn
            conn.close()
        if self._tls and self._ssl is None:
            self._ssl = _ssl_context()
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                _, conn = await loop.create_connection(
                    lambda: WireConnection(loop, self._timeout_s), self._host, self._port,
                    ssl=self._ssl if self._tls else None,
                    server_hostname=self._host if self._tls else None,
                )
        except OSError as exc:  # refused, unresolvable, TLS refused, or timed out
            raise _CannotConnect(f"connecting to the upstream failed: {exc!r}") from exc
        return conn

    def _release(self, pool: _LoopPool, conn: WireConnection | None) -> None:
        if conn is not None:
            if conn.reusable and not pool.closed:
                conn.idle_since = asyncio.get_running_loop().time()
                pool.idle.append(conn)
            else:
                conn.close()
        pool.slots.release()

    def _request(self, path: str, data: bytes) -> bytes:
        head = self._heads.get(path)
        if head is None:
            if not path.startswith("/") or any(c in path for c in " \r\n\0"):
                raise ValueError(f"path {path!r}: not a request target")
            head = self._heads[path] = (
                f"POST {self._prefix}{path} HTTP/1.1\r\n".encode("latin-1")
                + self._fixed + b"content-length: "
            )
        return b"%s%d\r\n\r\n%s" % (head, len(data), data)

    async def aclose(self) -> None:
        pool = self._pools.pop(asyncio.get_running_loop(), None)
        if pool is not None:
            pool.closed = True
            for conn in pool.idle:
                conn.close()
            pool.idle.clear()

    # -- requests --------------------------------------------------------------------------
    def _exchange(self, path: str, body: Mapping[str, Any]) -> _Exchange:
        return _Exchange(self, self._pool(), self._request(path, dumps(body)))

    async def post_json(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        try:
            async with self._exchange(path, body) as conn:
                content = await conn.read_all()
                status, headers = conn.status, conn.headers
        except OSError as exc:  # timeouts, ConnectionBroken and TLS errors among them
            raise _error(exc, self.backend, streaming=False) from exc
        if status >= 400:
            raise error_from_status(status, content, headers, self.backend)
        return decode_json(content, self.backend)

    async def post_lines(self, path: str, body: Mapping[str, Any]) -> AsyncGenerator[str, None]:
        """The reply's lines (without line endings) as they arrive."""
        try:
            async with self._exchange(path, body) as conn:
                await conn.read_head()
                if conn.status >= 400:
                    content = await conn.read_all()
                    raise error_from_status(conn.status, content, conn.headers, self.backend)
                pending = b""
                while (piece := await conn.next_piece()) is not None:
                    pending += piece
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        yield line.rstrip(b"\r").decode("utf-8", "replace")
                if pending:
                    yield pending.rstrip(b"\r").decode("utf-8", "replace")
        except OSError as exc:
            raise _error(exc, self.backend, streaming=True) from exc


class _Exchange:
    """One request on a pooled connection: a slot and a connection taken on entry (the
    request sent), both given back on exit — the connection kept only if fit for reuse."""

    __slots__ = ("_conn", "_pool", "_request", "_sessions")

    def __init__(self, sessions: LeanSessions, pool: _LoopPool, request: bytes) -> None:
        self._sessions, self._pool, self._request = sessions, pool, request
        self._conn: WireConnection | None = None

    async def __aenter__(self) -> WireConnection:
        await self._pool.slots.acquire()
        try:
            conn = self._conn = await self._sessions._connection(self._pool)
            conn.exchange(self._request)
        except BaseException:
            self._sessions._release(self._pool, self._conn)
            raise
        return conn

    async def __aexit__(self, *exc_info: object) -> None:
        self._sessions._release(self._pool, self._conn)

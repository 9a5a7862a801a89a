"""One keep-alive HTTP/1.1 client connection on asyncio: send a request, read its reply's
head and body as they arrive (httptools parses; chunked, sized and read-to-close bodies;
gzip and deflate decoded), with a read timeout between arrivals.

The connection pool and the errors callers see are `http_lean`'s; this module only knows
the wire. A connection carries one exchange at a time; `reusable` says whether it may carry
the next (the reply complete, keep-alive, nothing unread, not closed).
"""

from __future__ import annotations

import asyncio
import zlib
from typing import Any, cast

import httptools

# statuses whose replies have no body whatever their headers say (RFC 9112 §6.3)
_NO_BODY = frozenset({204, 304})


class ConnectionBroken(ConnectionError):
    """The server closed the connection, or sent what is not HTTP, before the reply ended."""


class ReplyTimeout(TimeoutError):
    """Nothing arrived from the server for the read timeout."""


class WireConnection(asyncio.Protocol):
    """An HTTP/1.1 client connection; `exchange` starts a request, `wait` reads its reply."""

    def __init__(self, loop: asyncio.AbstractEventLoop, read_timeout_s: float) -> None:
        self._loop = loop
        self._read_timeout_s = read_timeout_s
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._last_arrival = 0.0
        self.closed = False
        self.idle_since = 0.0
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.head_done = False
        self.done = False
        self.keep_alive = False
        self.failure: BaseException | None = None
        self._chunks: list[bytes] = []
        self._until_close = False
        self._decoder: Any = None
        self._busy = False
        self._interim = False

    # -- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self._last_arrival = self._loop.time()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(ConnectionBroken("the server switched protocols"))
        except httptools.HttpParserError as exc:
            if self.done:  # bytes after a complete reply: it stands, the connection does not
                self.close()
            else:
                self._fail(ConnectionBroken(f"not an HTTP/1.1 reply: {exc}"))
        self._wake()

    def eof_received(self) -> bool:
        return False  # close the transport: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.done and self.failure is None:
            if self._until_close and self.head_done:
                self._finish()  # the body was everything up to the close
            elif self._busy:
                self._fail(ConnectionBroken(
                    f"the server closed the connection mid-reply{f': {exc}' if exc else ''}"))
        self._wake()

    # -- httptools callbacks ---------------------------------------------------------------
    def on_message_begin(self) -> None:
        if not self._busy:  # a reply to no request: stop parsing (data_received decides)
            raise ConnectionBroken("the server sent a reply nobody asked for")

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        self.headers[key] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
        if 100 <= self.status < 200 and self.status != 101:
            self._interim = True  # 100 Continue, 103 Early Hints: the reply follows
            return
        self.head_done = True
        headers = self.headers
        self._until_close = (
            self.status not in _NO_BODY
            and "content-length" not in headers
            and "chunked" not in headers.get("transfer-encoding", "").lower()
        )
        encoding = headers.get("content-encoding", "").strip().lower()
        if encoding in ("gzip", "x-gzip"):
            self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._decoder = _Deflate()

    def on_body(self, body: bytes) -> None:
        if self._decoder is not None:
            try:
                body = self._decoder.decompress(body)
            except zlib.error as exc:
                self._fail(ConnectionBroken(f"a compressed body that does not decode: {exc}"))
                return
        if body:
            self._chunks.append(body)

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            self.status, self.headers = 0, {}
            return
        self._finish()

    # -- the exchange ----------------------------------------------------------------------
    def exchange(self, request: bytes) -> None:
        """Send one whole request (head and body); its reply arrives on this connection."""
        if self._transport is None or self.closed:
            raise ConnectionBroken("the connection is closed")
        self._reset()
        self._busy = True
        self._last_arrival = self._loop.time()
        self._transport.write(request)

    def take(self) -> bytes:
        """The body that has arrived and not been taken yet."""
        chunks, self._chunks = self._chunks, []
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def wait(self) -> None:
        """Until the next arrival (part of the head or body, the end, a failure); raises that
        failure, or ReplyTimeout when nothing arrived for the read timeout."""
        if self.failure is None and not self.done:
            if self.closed:
                raise ConnectionBroken("the server closed the connection")
            waiter = self._waiter = self._loop.create_future()
            self._timer = self._loop.call_at(
                self._last_arrival + self._read_timeout_s, self._on_timer)
            try:
                await waiter
            finally:
                self._waiter = None
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
        if self.failure is not None:
            raise self.failure

    async def read_head(self) -> None:
        while not self.head_done:
            await self.wait()

    async def read_all(self) -> bytes:
        while not self.done:
            await self.wait()
        return self.take()

    async def next_piece(self) -> bytes | None:
        """The next part of the body as it arrives; None once it has all been taken."""
        while not self._chunks:
            if self.done:
                return None
            await self.wait()
        return self.take()

    @property
    def reusable(self) -> bool:
        return self.done and self.keep_alive and not self.closed and self.failure is None

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()

    # -- internals -------------------------------------------------------------------------
    def _finish(self) -> None:
        if self._decoder is not None:
            try:
                tail = self._decoder.flush()
            except zlib.error as exc:
                self._fail(ConnectionBroken(f"a compressed body that does not decode: {exc}"))
                return
            if tail:
                self._chunks.append(tail)
        self.done = True
        self._busy = False
        self.keep_alive = self._parser.should_keep_alive() and not self._until_close

    def _fail(self, exc: BaseException) -> None:
        if self.failure is None:
            self.failure = exc
        self.close()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _on_timer(self) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        due = self._last_arrival + self._read_timeout_s
        if self._loop.time() < due:  # something arrived since: wait the rest
            self._timer = self._loop.call_at(due, self._on_timer)
            return
        self._fail(ReplyTimeout(f"nothing from the server for {self._read_timeout_s:g} s"))
        self._wake()


class _Deflate:
    """Content-Encoding: deflate — zlib-wrapped per the RFC, raw deflate as some servers send;
    which one is told by the first two bytes (a zlib header is a multiple of 31)."""

    def __init__(self) -> None:
        self._inner: Any = None
        self._start = b""

    def decompress(self, data: bytes) -> bytes:
        if self._inner is None:
            data = self._start + data
            if len(data) < 2:
                self._start = data
                return b""
            wrapped = data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self._inner = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        return bytes(self._inner.decompress(data))

    def flush(self) -> bytes:
        if self._inner is None:
            if self._start:
                raise zlib.error("a deflate body of one byte")
            return b""
        return bytes(self._inner.flush())

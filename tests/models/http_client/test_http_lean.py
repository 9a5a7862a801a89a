"""The lean async HTTP/1.1 client (cerebra.models.http_lean) against scripted servers on
real sockets, on asyncio's loop and on uvloop (conftest): body framings, encodings,
keep-alive and its limits, TLS, cancellation and what a broken or silent server becomes.
(The OpenAI and Anthropic suites run it against the fake upstreams too: every async call
there goes through it.)"""

from __future__ import annotations

import asyncio
import datetime
import gzip
import ssl
import zlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from cerebra.models.http_errors import UpstreamError
from cerebra.models.http_lean import LeanSessions

Writer = asyncio.StreamWriter


def closing(data: bytes) -> Callable[[asyncio.StreamReader, Writer], Any]:
    """A reply written, then the connection closed."""
    async def reply(reader: asyncio.StreamReader, writer: Writer) -> None:
        writer.write(data)
        await writer.drain()
        writer.close()
    return reply


async def silent(reader: asyncio.StreamReader, writer: Writer) -> None:
    await reader.read()  # until the client gives up and closes


class Scripted:
    """A server answering each request with the next scripted reply (bytes, or a coroutine
    function of the reader and writer); counts connections."""

    def __init__(self, replies: list[Any]) -> None:
        self.replies = list(replies)
        self.connections = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                reply = self.replies.pop(0)
                if callable(reply):
                    await reply(reader, writer)
                    if writer.is_closing():
                        break
                    continue
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def scripted() -> AsyncIterator[Callable[..., Any]]:
    servers: list[asyncio.Server] = []

    async def start(replies: list[Any], ssl_context: ssl.SSLContext | None = None
                    ) -> tuple[Scripted, int]:
        script = Scripted(replies)
        server = await asyncio.start_server(script.handle, "127.0.0.1", 0, ssl=ssl_context)
        servers.append(server)
        return script, server.sockets[0].getsockname()[1]

    yield start
    for server in servers:
        server.close()


def sessions(url: str, **options: Any) -> LeanSessions:
    settings: dict[str, Any] = {"backend": "test", "headers": {"authorization": "Bearer k"},
                                "timeout_s": 2.0, "connect_timeout_s": 2.0,
                                "max_connections": 4, "keepalive_s": 30.0}
    return LeanSessions(url, **{**settings, **options})


def ok(body: bytes, *extra: str) -> bytes:
    head = ["HTTP/1.1 200 OK", "content-type: application/json",
            f"content-length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def test_sized_chunked_gzip_and_deflate_replies_decode_alike(scripted: Any) -> None:
    doc = b'{"answer": "' + b"x" * 3000 + b'"}'
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(doc[i:i + 700]), doc[i:i + 700])
                      for i in range(0, len(doc), 700)) + b"0\r\n\r\n"
    raw_deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    replies = [
        ok(doc),
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + chunks,
        ok(gzip.compress(doc), "content-encoding: gzip"),
        ok(zlib.compress(doc), "content-encoding: deflate"),
        ok(raw_deflate.compress(doc) + raw_deflate.flush(), "content-encoding: deflate"),
    ]
    script, port = await scripted(replies)
    client = sessions(f"http://127.0.0.1:{port}/v1")
    for _ in replies:
        assert await client.post_json("/chat", {"q": 1}) == {"answer": "x" * 3000}
    assert script.connections == 1  # one keep-alive connection carried all five
    first = script.requests[0].decode()
    assert first.startswith("POST /v1/chat HTTP/1.1\r\n")
    assert f"host: 127.0.0.1:{port}\r\n" in first and "authorization: Bearer k\r\n" in first
    assert first.endswith('\r\n\r\n{"q":1}')
    await client.aclose()


async def test_a_reply_read_to_the_close_and_connection_close_are_not_reused(
        scripted: Any) -> None:
    script, port = await scripted([
        closing(b'HTTP/1.1 200 OK\r\n\r\n{"a": 1}'),  # no length: the body ends at the close
        ok(b'{"a": 2}', "connection: close"),
        ok(b'{"a": 3}'),
    ])
    client = sessions(f"http://127.0.0.1:{port}")
    assert [await client.post_json("/x", {}) for _ in range(3)] == [{"a": 1}, {"a": 2}, {"a": 3}]
    assert script.connections == 3
    await client.aclose()


async def test_a_connection_the_server_closed_or_idle_too_long_is_not_used(
        scripted: Any) -> None:
    # keep-alive by its headers, then closed while idle
    script, port = await scripted([closing(ok(b'{"a": 1}')), ok(b'{"a": 2}')])
    client = sessions(f"http://127.0.0.1:{port}")
    assert await client.post_json("/x", {}) == {"a": 1}
    (pool,) = client._pools.values()
    while not pool.idle[0].closed:  # until the loop has read the server's close
        await asyncio.sleep(0.01)
    assert await client.post_json("/x", {}) == {"a": 2}
    assert script.connections == 2
    expiring = sessions(f"http://127.0.0.1:{port}", keepalive_s=0.0)
    script.replies += [ok(b'{"a": 4}'), ok(b'{"a": 5}')]
    assert [await expiring.post_json("/x", {}) for _ in range(2)] == [{"a": 4}, {"a": 5}]
    assert script.connections == 4  # every idle connection past keepalive_s is dropped
    await client.aclose()
    await expiring.aclose()


async def test_lines_stream_across_chunk_boundaries(scripted: Any) -> None:
    async def stream(reader: asyncio.StreamReader, writer: Writer) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        for piece in (b"data: one\r\n\r\nda", b"ta: tw", b"o\n\ndata: three"):
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.write(b"0\r\n\r\n")

    script, port = await scripted([stream, ok(b'{"after": true}')])
    client = sessions(f"http://127.0.0.1:{port}")
    lines = [line async for line in client.post_lines("/s", {})]
    assert lines == ["data: one", "", "data: two", "", "data: three"]
    assert await client.post_json("/x", {}) == {"after": True}
    assert script.connections == 1  # the stream's connection went back to the pool
    await client.aclose()


async def test_broken_silent_and_garbled_servers_become_retryable_errors(
        scripted: Any) -> None:
    async def cut_mid_stream(reader: asyncio.StreamReader, writer: Writer) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n6\r\ndata: ")
        await writer.drain()
        writer.transport.abort()

    _, port = await scripted([
        b"SSH-2.0-OpenSSH\r\n\r\n",
        closing(b"HTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\n{\"a\":"),  # 5 of 8 bytes
        silent,
    ])
    client = sessions(f"http://127.0.0.1:{port}", timeout_s=0.3)
    for expected in ("connection broken mid-reply", "connection broken mid-reply", "timed out"):
        with pytest.raises(UpstreamError, match=expected) as info:
            await client.post_json("/x", {})
        assert info.value.retryable and "127.0.0.1" not in info.value.message
    _, port2 = await scripted([cut_mid_stream])
    streaming = sessions(f"http://127.0.0.1:{port2}")
    got: list[str] = []
    with pytest.raises(UpstreamError, match="stream broken mid-way"):
        async for line in streaming.post_lines("/s", {}):
            got.append(line)
    assert got == []  # "data: " never ended its line
    with pytest.raises(UpstreamError, match="cannot reach upstream"):
        await sessions("http://127.0.0.1:9").post_json("/x", {})
    await client.aclose()


async def test_an_error_status_carries_the_retry_after(scripted: Any) -> None:
    body = b'{"error": {"message": "slow down", "type": "rate_limit_error"}}'
    _, port = await scripted([
        b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\ncontent-length: %d\r\n\r\n%s"
        % (len(body), body)])
    with pytest.raises(UpstreamError) as info:
        await sessions(f"http://127.0.0.1:{port}").post_json("/x", {})
    assert info.value.upstream_status == 429 and info.value.retry_after == 7
    assert "slow down" in info.value.detail and "slow down" not in info.value.message


async def test_a_cancelled_request_frees_its_slot_and_closes_its_connection(
        scripted: Any) -> None:
    script, port = await scripted([silent, ok(b'{"a": 1}')])
    client = sessions(f"http://127.0.0.1:{port}", max_connections=1)
    task = asyncio.create_task(client.post_json("/x", {}))
    while not script.requests:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.wait_for(client.post_json("/x", {}), 3) == {"a": 1}
    assert script.connections == 2  # the cancelled exchange's connection was not reused
    await client.aclose()


def test_headers_that_could_split_the_request_are_refused() -> None:
    with pytest.raises(ValueError, match="cannot go on the wire"):
        sessions("http://127.0.0.1:1", headers={"x-key": "a\r\nhost: evil"})
    with pytest.raises(ValueError, match="not an http"):
        sessions("ftp://example.com")


def _certificate(folder: Path, name: str) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / f"{name}.pem", folder / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


async def test_https_verifies_the_server_against_the_trust_store(
        scripted: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = _certificate(tmp_path, "localhost")
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    script, port = await scripted([ok(b'{"secure": true}')], ssl_context=server_tls)
    with pytest.raises(UpstreamError, match="cannot reach upstream"):  # not trusted yet
        await sessions(f"https://localhost:{port}").post_json("/x", {})
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the system store, as OpenSSL reads it
    client = sessions(f"https://localhost:{port}")
    assert await client.post_json("/x", {}) == {"secure": True}
    assert b"host: localhost:%d\r\n" % port in script.requests[-1]
    await client.aclose()


def test_deflate_is_told_from_its_first_two_bytes_even_one_byte_at_a_time() -> None:
    from cerebra.models.http_wire import _Deflate

    doc = b"hello world " * 50
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    for body in (zlib.compress(doc), raw.compress(doc) + raw.flush()):
        decoder = _Deflate()
        got = b"".join(decoder.decompress(body[i:i + 1]) for i in range(len(body)))
        assert got + decoder.flush() == doc
    with pytest.raises(zlib.error):
        one = _Deflate()
        one.decompress(b"x")
        one.flush()


async def test_interim_replies_are_skipped_and_stray_bytes_end_the_connection(
        scripted: Any) -> None:
    script, port = await scripted([
        b"HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n" + ok(b'{"a": 1}'),
        ok(b'{"a": 2}') + b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}",  # one too many
        ok(b'{"a": 3}'),
    ])
    client = sessions(f"http://127.0.0.1:{port}")
    assert await client.post_json("/x", {}) == {"a": 1}
    assert await client.post_json("/x", {}) == {"a": 2}  # the reply stands ...
    assert await client.post_json("/x", {}) == {"a": 3}
    assert script.connections == 2  # ... its connection, with a stray reply on it, does not
    await client.aclose()


async def test_a_proxy_in_the_environment_is_used_as_the_sync_path_uses_it(
        scripted: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from cerebra.models.http_pool import HttpPool

    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    upstream, up_port = await scripted([ok(b'{"via": "direct"}')])
    proxy, proxy_port = await scripted([ok(b'{"via": "proxy"}')])
    direct = HttpPool(f"http://127.0.0.1:{up_port}/v1", backend="test")
    assert await direct.apost_json("/x", {}) == {"via": "direct"}
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy_port}")
    proxied = HttpPool(f"http://127.0.0.1:{up_port}/v1", backend="test")
    assert await proxied.apost_json("/x", {}) == {"via": "proxy"}
    assert proxy.requests[0].startswith(b"POST http://127.0.0.1:%d/v1/x HTTP/1.1" % up_port)
    assert len(upstream.requests) == 1  # only the direct one
    await direct.aclose()
    await proxied.aclose()

"""Test helpers: run the CLI in a subprocess; run a real uvicorn server on a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

CLI = [sys.executable, "-m", "cerebra.cli.main"]


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=Path.cwd(),
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(app: FastAPI) -> Iterator[str]:
    """Serve `app` with uvicorn in a thread on 127.0.0.1; yields the base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200 and server.started:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    else:
        raise RuntimeError("server did not start")
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextmanager
def running_redis(folder: Path) -> Iterator[str]:
    """A throw-away redis-server (Debian's package) in `folder`; yields its URL. Skips the
    test when redis-server is not installed."""
    import shutil

    import pytest

    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install -y redis-server)")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


def self_signed_cert(folder: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A fresh self-signed certificate for `host` (an IP address or a DNS name) and its key,
    written as PEM files in `folder`; returns (certfile, keyfile)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    try:
        alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        alt = x509.DNSName(host)
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return certfile, keyfile


@contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` (a stdlib request handler speaking some service's wire format) on a
    free loopback port in a thread; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def bearer(key: str) -> dict[str, str]:
    """The Authorization header of an API key or access token."""
    return {"Authorization": f"Bearer {key}"}


@dataclass
class ApiWorld:
    """A running app (auth on, fake model and embedder) with keys of tenant "default" for an
    admin, a user and a read-only caller, and an admin of tenant "other"."""

    client: Any  # fastapi.testclient.TestClient
    admin: dict[str, str]
    user: dict[str, str]
    reader: dict[str, str]
    other: dict[str, str]  # an admin of tenant "other"
    identity: Any  # the app's IdentityStore, for more keys


@contextmanager
def api_world(monkeypatch: Any) -> Iterator[ApiWorld]:
    """An ApiWorld on the settings of a fresh test home (monkeypatch: pytest's)."""
    from fastapi.testclient import TestClient

    from cerebra.auth.identity import IdentityStore
    from cerebra.config import get_settings
    from cerebra.server.app import create_app

    for name, value in {"CEREBRA_AUTH__MODE": "on", "CEREBRA_MODEL__FAKE": "true",
                        "CEREBRA_MEMORY__EMBEDDER": "fake",
                        "CEREBRA_HEALTH__INTERVAL_S": "0"}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    app = create_app(get_settings())
    with TestClient(app) as client:
        identity = IdentityStore(app.state.brain.engine)
        identity.create_tenant("other")
        keys = {role: identity.create_key("default", role=role)[0]
                for role in ("admin", "user", "read-only")}
        other, _ = identity.create_key("other", role="admin")
        yield ApiWorld(client, bearer(keys["admin"]), bearer(keys["user"]),
                       bearer(keys["read-only"]), bearer(other), identity)


@contextmanager
def live_gemma_server(monkeypatch: Any, gguf_path: Path, gguf_sha256: str,
                      **env: str) -> Iterator[tuple[str, Any]]:
    """A running server (auth on) on the real packaged Gemma, on the settings of a fresh
    test home plus `env`; yields (base URL, app)."""
    from cerebra.config import get_settings
    from cerebra.server.app import create_app

    for name, value in {"CEREBRA_AUTH__MODE": "on", "CEREBRA_MEMORY__EMBEDDER": "fake",
                        "CEREBRA_HEALTH__INTERVAL_S": "0", "CEREBRA_MODEL_PATH": str(gguf_path),
                        "CEREBRA_MODEL_SHA256": gguf_sha256, "CEREBRA_N_CTX": "512",
                        **env}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    app = create_app(get_settings())
    with running_server(app) as url:
        yield url, app


def note_flushes(backfill: Any) -> list[float | None]:
    """The timeouts of every `flush` on a write-behind VectorBackfill from now on (each
    call still flushes): what a search waited for."""
    waits: list[float | None] = []
    flush = backfill.flush

    def noting(timeout: float | None = 30.0) -> bool:
        waits.append(timeout)
        return bool(flush(timeout))

    backfill.flush = noting
    return waits

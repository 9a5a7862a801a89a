"""`cerebra serve` as a real process: TLS from CEREBRA_TLS_CERTFILE/KEYFILE (a certificate made
here, a client that verifies against it), and the signed config (`cerebra config sign`,
a start refused in one line with exit 2 when the settings changed)."""

from __future__ import annotations

import os
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.helpers import CLI, free_port, run_cli, self_signed_cert

WAIT = 120.0  # a safety net for a broken start, never a synchronisation


def base_env(tmp_path: Path) -> dict[str, str]:
    return {"CEREBRA_HOME": str(tmp_path / "home"), "CEREBRA_MODEL__FAKE": "true",
            "CEREBRA_MEMORY__EMBEDDER": "fake", "CEREBRA_HEALTH__INTERVAL_S": "0",
            "CEREBRA_SERVER__PORT": str(free_port())}


@contextmanager
def serving(env: dict[str, str]) -> Iterator[str]:
    """A `cerebra serve` process; yields its first output line once the server listens."""
    proc = subprocess.Popen([*CLI, "serve", "--no-engine-check"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, **env})
    try:
        assert proc.stdout is not None
        banner = ""
        for line in proc.stdout:
            if line.startswith("Cerebra serving on"):
                banner = line.strip()
            if "ready" in line and banner:  # the app's start-up finished: it listens next
                break
        assert banner, "serve exited before serving"
        yield banner
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def wait_listening(port: int) -> None:
    import socket

    deadline = time.monotonic() + WAIT
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.mark.timeout(300)
def test_serve_answers_tls_verified_against_the_certificate(tmp_path: Path) -> None:
    cert, key = self_signed_cert(tmp_path)
    env = {**base_env(tmp_path), "CEREBRA_TLS_CERTFILE": str(cert),
           "CEREBRA_TLS_KEYFILE": str(key), "CEREBRA_SERVER__LOG_JSON": "false"}
    port = int(env["CEREBRA_SERVER__PORT"])
    with serving(env) as banner:
        assert banner == f"Cerebra serving on https://127.0.0.1:{port}"
        wait_listening(port)
        context = ssl.create_default_context(cafile=str(cert))
        with httpx.Client(verify=context, timeout=30) as https:
            r = https.get(f"https://127.0.0.1:{port}/healthz")
            assert r.status_code == 200
            assert r.headers["strict-transport-security"].startswith("max-age=")
            assert r.headers["x-content-type-options"] == "nosniff"
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"https://127.0.0.1:{port}/healthz", timeout=30)  # system CAs only
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30)  # no plain HTTP


def test_serve_refuses_tls_files_that_do_not_load(tmp_path: Path) -> None:
    cert, _ = self_signed_cert(tmp_path)
    env = base_env(tmp_path)
    result = run_cli("serve", "--no-engine-check", env={
        **env, "CEREBRA_TLS_CERTFILE": str(cert), "CEREBRA_TLS_KEYFILE": str(cert)})
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "cannot load the TLS certificate" in result.stderr
    result = run_cli("serve", "--no-engine-check", env={**env, "CEREBRA_TLS_CERTFILE": str(cert)})
    assert result.returncode == 2 and "CEREBRA_TLS_KEYFILE is not set" in result.stderr


@pytest.mark.timeout(300)
def test_signed_config_is_verified_at_start(tmp_path: Path) -> None:
    env = {**base_env(tmp_path), "CEREBRA_SECRET_KEY": "a-real-secret-for-signing"}
    signed = run_cli("config", "sign", env=env)
    assert signed.returncode == 0, signed.stderr
    signature = signed.stdout.strip()
    assert signature.startswith("hmac-sha256:") and len(signature) == len("hmac-sha256:") + 64
    env["CEREBRA_CONFIG_SIGNATURE"] = signature
    assert run_cli("config", "verify", env=env).stdout.strip() == "config signature ok"

    with serving(env) as banner:  # the signed settings start
        assert banner.startswith("Cerebra serving on http://")

    changed = {**env, "CEREBRA_MEMORY__TOP_K": "1"}
    for args in (("serve", "--no-engine-check"), ("config", "verify")):
        result = run_cli(*args, env=changed)
        assert result.returncode == 2, result.stdout
        assert result.stderr.count("\n") == 1 and "do not match" in result.stderr
    other_key = {**env, "CEREBRA_SECRET_KEY": "another-secret"}
    assert run_cli("serve", "--no-engine-check", env=other_key).returncode == 2
    forged = {**env, "CEREBRA_CONFIG_SIGNATURE": "hmac-sha256:" + "0" * 64}
    assert run_cli("serve", "--no-engine-check", env=forged).returncode == 2
    dev = {**base_env(tmp_path), "CEREBRA_CONFIG_SIGNATURE": signature}
    refused = run_cli("config", "sign", env={k: v for k, v in dev.items()
                                             if k != "CEREBRA_CONFIG_SIGNATURE"})
    assert refused.returncode == 2 and "development default" in refused.stderr

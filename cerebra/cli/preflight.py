"""Checks `cerebra serve` runs before it loads anything: the settings match their signature,
the TLS files load, the port is free, the engine runs.

A port in use used to be found after the model had loaded (~25 s) and a native crash on the
first health probe; both are now one-line errors (exit 2) before any model is loaded.
"""

from __future__ import annotations

import errno
import socket
import ssl
from typing import Any

from cerebra.config import Settings
from cerebra.errors import CerebraError, InvalidInput


class EngineUnusable(CerebraError):
    """The local engine cannot generate on this machine (crash, missing library)."""

    status_code = 500
    code = "engine_unusable"


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind (host, port) now and hand the socket to the server later: no race, no late Errno 98."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise InvalidInput(f"cannot resolve host {host!r}: {exc.strerror}", field="host") from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise InvalidInput(
                f"port {port} on {host} is already in use (another Cerebra server?); "
                "stop it or choose another with --port / CEREBRA_PORT",
                field="port",
            ) from exc
        raise InvalidInput(f"cannot bind {host}:{port}: {exc.strerror}", field="host") from exc
    sock.set_inheritable(True)
    return sock


def check_engine(settings: Settings) -> str | None:
    """Trial generation with the embedded model in a child process; raise if it cannot run.

    Returns a one-line summary, or None when no embedded llama.cpp model is configured.
    """
    if settings.model.fake or not settings.model.embedded:
        return None
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None:
        raise EngineUnusable(
            "llama-cpp-python is not installed; install it with: pip install 'cerebra[local]'"
        )
    from cerebra.models.weights import resolve_model_file, verify_file
    from cerebra.native.probe import check_engine as trial

    settings.ensure_home()
    path, sha = resolve_model_file(settings.models_dir, settings.model.path, settings.model.sha256)
    if sha:
        verify_file(path, sha)  # a damaged file is named as such, not as an engine crash
    result = trial(path)
    if not result.ok:
        fix = f"; {result.fix}" if result.fix else ""
        raise EngineUnusable(f"{result.detail}{fix}")
    return result.detail


def check_signature(settings: Settings) -> bool:
    """Verify CEREBRA_CONFIG_SIGNATURE when set (raises on a mismatch); True when checked."""
    from cerebra.governance.config_signature import verify

    return verify(settings)


def tls_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's ssl_certfile/ssl_keyfile from settings, checked to load (one-line errors);
    {} when TLS is not configured."""
    cert, key = settings.server.tls_certfile, settings.server.tls_keyfile
    if cert is None and key is None:
        return {}
    if cert is None or key is None:
        missing = "CEREBRA_TLS_CERTFILE" if cert is None else "CEREBRA_TLS_KEYFILE"
        raise InvalidInput(f"TLS needs both a certificate and a key; {missing} is not set",
                           field="tls_certfile" if cert is None else "tls_keyfile")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        why = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
        raise InvalidInput(f"cannot load the TLS certificate {cert} with key {key}: {why}",
                           field="tls_certfile") from exc
    return {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}

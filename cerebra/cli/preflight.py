"""Checks `cerebra serve` runs before it loads anything: the port is free, the engine runs.

A port in use used to be found after the model had loaded (~25 s) and a native crash on the
first health probe; both are now one-line errors (exit 2) before any model is loaded.
"""

from __future__ import annotations

import errno
import socket

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

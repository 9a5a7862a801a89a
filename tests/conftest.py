"""Shared fixtures, and the network guard: any non-loopback connection from a test fails."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# No llama.cpp model is loaded in this process (see tests/native/guard.py).
pytest_plugins = ("tests.native.guard", "tests.pg")

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


class NetworkBlocked(RuntimeError):
    pass


def _is_loopback(address: Any) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check(sock: socket.socket, address: Any) -> None:
    if sock.family == socket.AF_UNIX:
        return
    if not _is_loopback(address):
        raise NetworkBlocked(f"tests may not connect to {address!r}: only loopback is allowed")


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check(self, address)
    _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check(self, address)
    return _real_connect_ex(self, address)


def pytest_configure(config: pytest.Config) -> None:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Each test gets its own CEREBRA_HOME and a fresh settings cache; no .env is read."""
    from cerebra.config import get_settings

    for key in list(os.environ):
        if key.startswith("CEREBRA_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("CEREBRA_HOME", str(tmp_path / "home"))
    # Tests of other concerns call the server as an anonymous admin (auth off, loopback
    # only); the security tests (tests/security/) switch authentication on themselves.
    monkeypatch.setenv("CEREBRA_AUTH__MODE", "off")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def _no_user_folders_or_servers(
    _isolated_settings: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[None]:
    """Never the real per-user data folder (even with CEREBRA_HOME unset), and never a
    developer's running server: CEREBRA_PORT is a port held bound, without listening, for the
    test, so `cerebra ask`/`chat` find no server unless a test starts one."""
    import platformdirs

    from cerebra.config import get_settings

    user_data = tmp_path / "user-data"
    monkeypatch.setenv("XDG_DATA_HOME", str(user_data))  # subprocesses (Linux)
    monkeypatch.setattr(
        platformdirs, "user_data_dir", lambda appname=None, *a, **k: str(user_data / appname)
    )
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        monkeypatch.setenv("CEREBRA_PORT", str(held.getsockname()[1]))
        get_settings.cache_clear()
        yield


@pytest.fixture
def fake_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings for the fast path: FakeModel and FakeEmbedder."""
    from cerebra.config import get_settings

    monkeypatch.setenv("CEREBRA_FAKE_MODEL", "1")
    monkeypatch.setenv("CEREBRA_EMBEDDER", "fake")
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def gguf_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packaged Gemma GGUF, assembled once per test session."""
    from cerebra.models.weights import PackagedModel

    return PackagedModel.load().assemble_into(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def gguf_sha256() -> str:
    from cerebra.models.weights import PackagedModel

    return PackagedModel.load().expected_sha256


@pytest.fixture(scope="session")
def llama_backend(gguf_path: Path, gguf_sha256: str) -> Iterator[Any]:
    """The packaged GGUF through llama.cpp, loaded once in a child process: a native crash
    fails the tests that hit it (ChildCrashed names the signal), not the test run."""
    from cerebra.isolated import ChildBackend
    from cerebra.models.llamacpp import LlamaCppBackend

    backend = ChildBackend(LlamaCppBackend, gguf_path, name="gemma-3-270m",
                           expected_sha256=gguf_sha256, n_ctx=2048)
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def minilm() -> Any:
    from cerebra.memory.embedders import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder of exported MiniLM ONNX files for the whole session."""
    return tmp_path_factory.mktemp("onnx-models")


@pytest.fixture(scope="session")
def minilm_onnx(onnx_cache: Path) -> Any:
    """MiniLM on ONNX Runtime, int8 (exported once per session)."""
    from cerebra.memory.onnx_embedder import OnnxMiniLMEmbedder

    return OnnxMiniLMEmbedder(onnx_cache, variant="int8")


@pytest.fixture(scope="session")
def minilm_onnx_fp32(onnx_cache: Path) -> Any:
    """MiniLM on ONNX Runtime, fp32 (exported once per session)."""
    from cerebra.memory.onnx_embedder import OnnxMiniLMEmbedder

    return OnnxMiniLMEmbedder(onnx_cache, variant="fp32")


@pytest.fixture
def real_model_env(monkeypatch: pytest.MonkeyPatch, gguf_path: Path, gguf_sha256: str) -> None:
    """Settings that use the real GGUF (pre-assembled) and the real embedder."""
    from cerebra.config import get_settings

    monkeypatch.setenv("CEREBRA_MODEL_PATH", str(gguf_path))
    monkeypatch.setenv("CEREBRA_MODEL_SHA256", gguf_sha256)
    monkeypatch.setenv("CEREBRA_N_CTX", "2048")
    get_settings.cache_clear()

"""No llama.cpp model is loaded in the pytest process: a native crash there (SIGILL from an
instruction the CPU refuses) would end the whole test run. Tests drive the engine through
child processes (the `llama_backend` fixture, `cerebra.isolated.run_in_child`); in this
process `llama_cpp.Llama(...)` raises EngineInProcess.

A test that truly cannot avoid it is marked `engine_in_process`: the engine is first checked
once per session in a child (cerebra.native.probe.check_engine: load the packaged GGUF,
generate two tokens), and only if that child succeeds does the test load the model here.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

MARKER = "engine_in_process"
_state = {"allowed": False}


class EngineInProcess(RuntimeError):
    pass


def _guard(module: ModuleType) -> None:
    """Wrap `Llama.__new__`, so that a refused model is never even half-built (its __del__
    would then complain about what __init__ never set)."""
    llama = getattr(module, "Llama", None)
    if llama is None or getattr(llama, "_cerebra_guard", False):
        return
    original = llama.__new__

    def guarded(cls: type, *args: Any, **kwargs: Any) -> Any:
        if not _state["allowed"]:
            raise EngineInProcess(
                "tests may not load a llama.cpp model in the pytest process (a native crash "
                "would end the test run): use the llama_backend fixture (a ChildBackend) or "
                f"cerebra.isolated.run_in_child, or mark the test @pytest.mark.{MARKER}")
        if original is object.__new__:
            return object.__new__(cls)
        return original(cls, *args, **kwargs)

    llama.__new__ = staticmethod(guarded)
    llama._cerebra_guard = True


class _Loader(importlib.abc.Loader):
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self._inner.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        self._inner.exec_module(module)
        _guard(module)

    def __getattr__(self, name: str) -> Any:  # resource readers and the like
        return getattr(self._inner, name)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != "llama_cpp":
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)
        return spec


def install() -> None:
    """Refuse in-process model loads from now on (llama_cpp imported now or later)."""
    if "llama_cpp" in sys.modules:
        _guard(sys.modules["llama_cpp"])
    elif not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


def allow(value: bool) -> None:
    _state["allowed"] = value


# -- pytest plugin (tests/conftest.py lists this module in pytest_plugins) ----------------


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}: may load llama.cpp in the pytest process, after the engine "
        "survived a check in a child process")
    install()


@pytest.fixture(scope="session")
def _engine_survives_in_a_child(gguf_path: Path) -> None:
    from cerebra.native.probe import check_engine

    check = check_engine(gguf_path, tokens=2, timeout_s=300)
    if not check.ok:
        pytest.fail(f"llama.cpp failed a check in a child process, so it is not loaded in the "
                    f"test process: {check.detail}; {check.fix}")


@pytest.fixture(autouse=True)
def _engine_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.get_closest_marker(MARKER) is None:
        yield
        return
    request.getfixturevalue("_engine_survives_in_a_child")
    allow(True)
    try:
        yield
    finally:
        allow(False)

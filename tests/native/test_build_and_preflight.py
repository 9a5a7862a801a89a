"""The portable engine build's identity, the serve pre-flight checks and crash diagnosis."""

from __future__ import annotations

import json
import signal
import socket
import stat
from pathlib import Path

import pytest

from cerebra.cli.preflight import bind_socket
from cerebra.errors import InvalidInput
from cerebra.native import build
from cerebra.native.probe import REBUILD_COMMAND, check_engine, diagnose_crash
from tests.helpers import free_port, run_cli


def test_portable_flags_leave_out_native_amx_and_avx512() -> None:
    flags = set(build.portable_spec().flags)
    assert "-DGGML_NATIVE=OFF" in flags
    for name in ("AMX_TILE", "AMX_INT8", "AMX_BF16", "AVX512", "AVX512_VNNI", "AVX512_BF16"):
        assert f"-DGGML_{name}=OFF" in flags
    assert not any(f.endswith("=ON") for f in flags)


def test_build_key_follows_the_flags_and_version() -> None:
    portable = build.portable_spec()
    other_flags = build.BuildSpec(portable.version, ("-DGGML_NATIVE=ON",), label="portable")
    other_version = build.BuildSpec("0.0.1", portable.flags)
    keys = {portable.key, other_flags.key, other_version.key}
    assert len(keys) == 3
    assert portable.key == build.portable_spec().key  # stable
    root = Path("/w")
    assert portable.wheel_dir(root) != other_flags.wheel_dir(root)


def test_native_spec_never_enables_amx() -> None:
    flags = build.native_spec().flags
    assert "-DGGML_AMX_TILE=OFF" in flags and "-DGGML_AMX_INT8=OFF" in flags
    if any(f.startswith("amx") for f in build.cpu_flags()):
        assert "-DGGML_NATIVE=OFF" in flags  # -march=native would compile AMX in


def test_installed_engine_is_the_portable_wheel() -> None:
    """What `make` installs: llama-cpp-python from the portable wheel directory, not a wheel
    pip built (natively) and cached."""
    pytest.importorskip("llama_cpp")
    source = build.installed_from()
    assert source is not None, "llama-cpp-python was not installed from a local wheel"
    assert build.portable_spec().key in str(source), source
    meta = json.loads((source.parent / "build.json").read_text())
    assert meta["flags"] == list(build.portable_spec().flags)


def test_ensure_reuses_the_keyed_wheel_without_building(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = build.BuildSpec("9.9.9", ("-DGGML_NATIVE=OFF",))
    wheel_dir = spec.wheel_dir(tmp_path)
    wheel_dir.mkdir(parents=True)
    wheel = wheel_dir / "llama_cpp_python-9.9.9-cp311-cp311-linux_x86_64.whl"
    wheel.write_bytes(b"")
    built: list[object] = []
    installed: list[Path] = []
    monkeypatch.setattr(build, "build_wheel", lambda *a, **k: built.append(a) or wheel)
    monkeypatch.setattr(build, "install_wheel", lambda w, **k: installed.append(w))
    assert build.ensure(spec, tmp_path) == wheel
    assert built == [] and installed == [wheel]
    # a wheel in another key's directory (another build's flags) is never taken
    other = build.BuildSpec("9.9.9", ("-DGGML_NATIVE=ON",))
    assert build.find_wheel(other.wheel_dir(tmp_path)) is None


def test_bind_socket_refuses_a_port_in_use() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(InvalidInput) as info:
            bind_socket("127.0.0.1", port)
    assert info.value.field == "port" and str(port) in info.value.message
    sock = bind_socket("127.0.0.1", free_port())
    sock.close()


def test_serve_on_a_busy_port_is_one_line_exit_2_before_loading(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        # a model path that does not exist: had serve loaded anything first, it would say so
        result = run_cli(
            "serve", "--port", str(port),
            env={"CEREBRA_MODEL_PATH": str(tmp_path / "missing.gguf")},
        )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "already in use" in lines[0] and str(port) in lines[0]
    assert "Cerebra serving" not in result.stdout


def _crashing_python(tmp_path: Path, sig: signal.Signals) -> str:
    """An 'interpreter' that dies of `sig` like a native crash in the engine would."""
    script = tmp_path / "python"
    script.write_text(f"#!/bin/sh\nkill -{sig.name[3:]} $$\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_engine_crash_is_diagnosed_with_library_cause_and_fix(tmp_path: Path) -> None:
    result = check_engine(tmp_path / "m.gguf", python=_crashing_python(tmp_path, signal.SIGILL))
    assert not result.ok and result.signal_name == "SIGILL"
    assert "SIGILL" in result.detail and "signal 4" in result.detail
    assert "llama-cpp-python" in result.detail and "instructions" in result.detail
    assert REBUILD_COMMAND in result.fix


def test_other_signals_are_named_too(tmp_path: Path) -> None:
    result = check_engine(tmp_path / "m.gguf", python=_crashing_python(tmp_path, signal.SIGSEGV))
    assert not result.ok and result.signal_name == "SIGSEGV"
    assert "SIGSEGV" in result.detail and REBUILD_COMMAND in result.fix


def test_diagnosis_counts_amx_in_the_library(tmp_path: Path) -> None:
    import shutil
    import subprocess

    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    src = tmp_path / "amx.c"
    src.write_text(
        "void f(void) { __asm__ volatile(\".byte 0xc4,0xe2,0x78,0x49,0xc0\"); }\n"  # tilerelease
    )
    lib = tmp_path / "libggml-cpu.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(lib), str(src)], check=True)
    result = diagnose_crash(-signal.SIGILL, library=lib)
    assert "1 AMX" in result.detail and str(lib) in result.detail


def test_engine_failure_without_a_signal_is_reported(tmp_path: Path) -> None:
    script = tmp_path / "python"
    script.write_text("#!/bin/sh\necho 'ModuleNotFoundError: No module named llama_cpp' >&2\n"
                      "exit 1\n")
    script.chmod(0o755)
    result = check_engine(tmp_path / "m.gguf", python=str(script))
    assert not result.ok and result.signal_name is None
    assert "ModuleNotFoundError" in result.detail and "cerebra[local]" in result.fix

"""The installed llama.cpp is the portable build: its CPU backend carries no AMX and no
AVX-512 instructions (baseline AVX2/FMA/F16C), so it cannot die of SIGILL on a machine that
advertises AMX but does not grant it; and the scanner that says so counts what it should."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from cerebra.native.isa import engine_libraries, scan

needs_objdump = pytest.mark.skipif(shutil.which("objdump") is None,
                                   reason="objdump not found (apt-get install -y binutils)")

TINY = r"""
void amx_and_avx512(void) {
    __asm__ volatile (".byte 0xc4,0xe2,0x78,0x49,0xc0");  /* tilerelease */
    __asm__ volatile ("vpaddd %zmm1, %zmm2, %zmm3");
}
void avx2_only(void) {
    __asm__ volatile ("vpaddd %ymm1, %ymm2, %ymm3");
    __asm__ volatile ("vfmadd231ps %ymm1, %ymm2, %ymm3");
}
"""

PORTABLE = r"""
void avx2_only(void) {
    __asm__ volatile ("vpaddd %ymm1, %ymm2, %ymm3");
    __asm__ volatile ("vcvtph2ps %xmm1, %ymm2");
}
"""


def _shared_object(tmp_path: Path, name: str, source: str) -> Path:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not found")
    c_file, so_file = tmp_path / f"{name}.c", tmp_path / f"lib{name}.so"
    c_file.write_text(source)
    subprocess.run([gcc, "-shared", "-fPIC", "-O0", "-o", str(so_file), str(c_file)],
                   check=True, capture_output=True)
    return so_file


@needs_objdump
def test_scan_counts_one_amx_and_one_avx512_instruction(tmp_path: Path) -> None:
    report = scan(_shared_object(tmp_path, "tiny", TINY))
    assert (report.amx, report.avx512) == (1, 1)
    assert not report.portable
    clean = scan(_shared_object(tmp_path, "portable", PORTABLE))
    assert (clean.amx, clean.avx512) == (0, 0) and clean.portable


@needs_objdump
def test_installed_engine_has_no_amx_and_no_avx512() -> None:
    libraries = engine_libraries()
    assert libraries, "llama-cpp-python is not installed (python -m cerebra.native.build)"
    assert libraries[0].name.startswith("libggml-cpu"), [p.name for p in libraries]
    unique: dict[str, Path] = {}  # a wheel holds copies, not links: libX.so, .so.0, .so.0.N
    for path in libraries:
        unique.setdefault(hashlib.sha256(path.read_bytes()).hexdigest(), path)
    reports = [scan(path) for path in unique.values()]
    offending = [f"{r.path.name}: {r.amx} AMX, {r.avx512} AVX-512 instructions"
                 for r in reports if not r.portable]
    assert offending == [], (
        "the installed llama.cpp is not the portable build; rebuild it with "
        f"`python -m cerebra.native.build`: {offending}")

"""Which CPU instruction families a native library contains (AMX, AVX-512), by disassembly.

Used by `cerebra doctor` to explain a crash of the engine, and by the tests to assert that
the installed llama.cpp CPU backend is portable. Reads the library with binutils' objdump.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from importlib import util
from pathlib import Path

# AMX: tile configuration, loads/stores and the dot-product instructions.
_AMX = re.compile(r"\b(ldtilecfg|sttilecfg|tilerelease|tilezero|tileloadd|tileloaddt1|"
                  r"tilestored|tdpbssd|tdpbsud|tdpbusd|tdpbuud|tdpbf16ps|tdpfp16ps)\b")
# AVX-512: any instruction that names a zmm register or an opmask register k1..k7.
_AVX512 = re.compile(r"%zmm\d+|%k[1-7]\b")


@dataclass(frozen=True)
class IsaReport:
    path: Path
    amx: int  # AMX instructions found
    avx512: int  # instructions using zmm or opmask registers

    @property
    def portable(self) -> bool:
        return self.amx == 0 and self.avx512 == 0


def engine_libraries() -> list[Path]:
    """The native libraries of the installed llama-cpp-python (ggml CPU backend first)."""
    spec = util.find_spec("llama_cpp")
    if spec is None or spec.origin is None:
        return []
    lib = Path(spec.origin).parent / "lib"
    # the wheel ships libfoo.so, .so.0 and .so.0.x.y as copies, not links: one of each
    libs = sorted(p for p in lib.glob("lib*.so") if p.is_file()) if lib.is_dir() else []
    if not libs and lib.is_dir():  # platforms that only ship versioned names
        libs = sorted(p for p in lib.glob("lib*.so*") if p.is_file())
    libs.sort(key=lambda p: (not p.name.startswith("libggml-cpu"), p.name))
    return libs


def scan(path: Path) -> IsaReport:
    """Disassemble `path` and count AMX and AVX-512 instructions."""
    objdump = shutil.which("objdump")
    if objdump is None:
        raise RuntimeError("objdump not found (install binutils)")
    amx = avx512 = 0
    with subprocess.Popen(
        [objdump, "-d", "--no-show-raw-insn", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "\t" not in line:
                continue
            if _AMX.search(line):
                amx += 1
            elif _AVX512.search(line):
                avx512 += 1
    if proc.returncode != 0:
        raise RuntimeError(f"objdump failed on {path} (exit {proc.returncode})")
    return IsaReport(path=path, amx=amx, avx512=avx512)

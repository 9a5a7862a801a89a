"""Build and install llama-cpp-python portably: no -march=native, no AMX, no AVX-512.

A source build of llama-cpp-python enables llama.cpp's native CPU flags by default. On a
CPU that advertises AMX the resulting library executes AMX tile instructions that the
process may not be allowed to run (SIGILL), and pip caches the built wheel, so one native
build follows the machine around. This module builds the wheel itself with a conservative
x86-64 baseline (SSE4.2, AVX, AVX2, BMI2, FMA, F16C; llama.cpp's own non-native default,
AMX and AVX-512 explicitly off; arm64 gets the generic armv8 build), into a directory keyed
by the version and the flags, with pip's cache off, and installs exactly that wheel.

Standard library only: it runs before the rest of Cerebra's dependencies are installed
(`python -m cerebra.native.build`, which `make` calls), and again from `cerebra doctor`'s
advice when a native build is found.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

LLAMA_CPP_VERSION = "0.3.36"
DIST = "llama-cpp-python"

# The portable baseline. GGML_NATIVE=OFF turns on llama.cpp's conservative x86 set
# (SSE4.2/AVX/AVX2/BMI2/FMA/F16C); the rest is spelled out so that no environment default
# can bring AVX-512 or AMX back. Multimodal (mtmd) is not used by Cerebra: not built.
PORTABLE_FLAGS: tuple[str, ...] = (
    "-DGGML_NATIVE=OFF",
    "-DGGML_AVX512=OFF",
    "-DGGML_AVX512_VBMI=OFF",
    "-DGGML_AVX512_VNNI=OFF",
    "-DGGML_AVX512_BF16=OFF",
    "-DGGML_AVX_VNNI=OFF",
    "-DGGML_AMX_TILE=OFF",
    "-DGGML_AMX_INT8=OFF",
    "-DGGML_AMX_BF16=OFF",
    "-DGGML_BACKEND_DL=OFF",
    "-DGGML_CPU_ALL_VARIANTS=OFF",
    "-DLLAVA_BUILD=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_TOOLS=OFF",
    "-DLLAMA_BUILD_SERVER=OFF",
)


@dataclass(frozen=True)
class BuildSpec:
    """What a build is: the llama-cpp-python version, the CMake flags, and where it lives."""

    version: str
    flags: tuple[str, ...]
    label: str = "portable"

    @property
    def key(self) -> str:
        ident = json.dumps(
            {
                "version": self.version,
                "flags": list(self.flags),
                "machine": platform.machine(),
                "python": sys.implementation.cache_tag,
                "platform": sysconfig.get_platform(),
            },
            sort_keys=True,
        )
        return f"{self.label}-{hashlib.sha256(ident.encode()).hexdigest()[:16]}"

    def wheel_dir(self, root: Path) -> Path:
        return root / f"llama-cpp-python-{self.version}" / self.key


def portable_spec(version: str = LLAMA_CPP_VERSION) -> BuildSpec:
    return BuildSpec(version=version, flags=PORTABLE_FLAGS)


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return set(line.split(":", 1)[1].split())
    return set()


def native_spec(version: str = LLAMA_CPP_VERSION) -> BuildSpec:
    """The fastest build for this CPU that is still not AMX: for comparison in benchmarks.

    Without AMX on the CPU this is llama.cpp's -march=native build. With AMX advertised,
    -march=native would compile AMX in, so the CPU's other features are spelled out instead.
    """
    flags = cpu_flags()
    rest = [f for f in PORTABLE_FLAGS if not f.startswith(("-DGGML_NATIVE", "-DGGML_AVX"))]
    if not any(f.startswith("amx") for f in flags):
        return BuildSpec(version, ("-DGGML_NATIVE=ON", *rest), label="native")
    feature = {
        "avx512f": "AVX512", "avx512vbmi": "AVX512_VBMI", "avx512_vnni": "AVX512_VNNI",
        "avx512_bf16": "AVX512_BF16", "avx_vnni": "AVX_VNNI",
    }  # fmt: skip
    spelled = [f"-DGGML_{name}={'ON' if cpu in flags else 'OFF'}" for cpu, name in feature.items()]
    return BuildSpec(version, ("-DGGML_NATIVE=OFF", *spelled, *rest), label="native-noamx")


def install_target(wheel: Path, target: Path, *, python: str = sys.executable) -> Path:
    """Unpack `wheel` into its own folder (for PYTHONPATH), leaving the venv's engine alone."""
    if not (target / "llama_cpp").is_dir():
        cmd = [
            python, "-m", "pip", "install", "--no-cache-dir", "--no-deps", "--quiet",
            "--target", str(target), str(wheel),
        ]  # fmt: skip
        subprocess.run(cmd, check=True)
    return target


def default_wheel_root() -> Path:
    """Project-local when run from a checkout (next to pyproject.toml), else per user."""
    env = os.environ.get("CEREBRA_WHEEL_DIR")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[2]
    if (repo / "pyproject.toml").is_file():
        return repo / ".cache" / "wheels"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cerebra" / "wheels"


def find_wheel(directory: Path) -> Path | None:
    wheels = sorted(directory.glob("llama_cpp_python-*.whl")) if directory.is_dir() else []
    return wheels[-1] if wheels else None


def build_wheel(spec: BuildSpec, root: Path, *, python: str = sys.executable) -> Path:
    """Compile the wheel (minutes) into spec's directory; pip's cache neither read nor written."""
    target = spec.wheel_dir(root)
    target.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["CMAKE_ARGS"] = " ".join(spec.flags)
    env["FORCE_CMAKE"] = "1"
    env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
    cmd = [
        python, "-m", "pip", "wheel", "--no-cache-dir", "--no-deps", "--no-binary", DIST,
        "--wheel-dir", str(target), f"{DIST}=={spec.version}",
    ]  # fmt: skip
    print(f"building {DIST} {spec.version} ({spec.label}: {env['CMAKE_ARGS']})", flush=True)
    subprocess.run(cmd, check=True, env=env)
    wheel = find_wheel(target)
    if wheel is None:
        raise RuntimeError(f"pip wheel produced no wheel in {target}")
    (target / "build.json").write_text(
        json.dumps({"version": spec.version, "flags": list(spec.flags), "label": spec.label})
    )
    return wheel


def installed_from() -> Path | None:
    """The wheel file the installed llama-cpp-python came from, if pip recorded a local file."""
    try:
        raw = metadata.distribution(DIST).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    if not raw:
        return None
    url = json.loads(raw).get("url", "")
    parsed = urlparse(url)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else None


def installed_version() -> str | None:
    try:
        return metadata.version(DIST)
    except metadata.PackageNotFoundError:
        return None


def is_installed(spec: BuildSpec, root: Path) -> bool:
    source = installed_from()
    return (
        installed_version() == spec.version
        and source is not None
        and source.parent.resolve() == spec.wheel_dir(root).resolve()
    )


def install_wheel(wheel: Path, *, python: str = sys.executable) -> None:
    """Replace whatever llama-cpp-python is installed by `wheel`, then add its dependencies
    (diskcache, jinja2, …) without touching what is already there."""
    base = [python, "-m", "pip", "install", "--no-cache-dir", "--quiet"]
    subprocess.run([*base, "--no-deps", "--force-reinstall", str(wheel)], check=True)
    subprocess.run([*base, str(wheel)], check=True)


def ensure(spec: BuildSpec, root: Path, *, force: bool = False) -> Path:
    """Install spec's build: reuse its wheel if present, build it if not. Idempotent."""
    wheel = None if force else find_wheel(spec.wheel_dir(root))
    if wheel is None:
        wheel = build_wheel(spec, root)
    if force or not is_installed(spec, root):
        print(f"installing {wheel.name} ({spec.label} build {spec.key})", flush=True)
        install_wheel(wheel)
    return wheel


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cerebra.native.build",
        description="Build and install llama-cpp-python portably (no -march=native, no AMX).",
    )
    parser.add_argument("--force", action="store_true", help="rebuild and reinstall")
    parser.add_argument("--wheel-dir", type=Path, default=None, help="where wheels are kept")
    parser.add_argument("--print-key", action="store_true", help="print the build key and exit")
    args = parser.parse_args(argv)
    spec = portable_spec()
    root = args.wheel_dir or default_wheel_root()
    if args.print_key:
        print(spec.wheel_dir(root))
        return 0
    ensure(spec, root, force=args.force)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

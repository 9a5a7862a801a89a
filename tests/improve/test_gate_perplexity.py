"""Perplexity through llama.cpp on the real embedded Gemma: finite and above 1 on held-out
general text, and raised by a LoRA adapter GGUF of random noise (written here with the
`gguf` package in llama.cpp's adapter layout) — enough for the gate to refuse a candidate
that gains on its task."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from cerebra.improve.gate import evaluate_gate
from cerebra.improve.perplexity import (
    PerplexityError,
    general_text,
    gguf_perplexity,
    perplexity_of,
)

GEMMA_LAYERS, N_EMBD = 18, 640


def noise_lora(path: Path, scale: float, rank: int = 4, seed: int = 0) -> Path:
    """A LoRA adapter GGUF for Gemma 3 270M on attn_q and attn_v of every block, all noise."""
    import gguf

    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(str(path), "gemma3")
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(rank))
    for block in range(GEMMA_LAYERS):
        for name, n_out in (("attn_q", 1024), ("attn_v", 256)):
            a = rng.standard_normal((rank, N_EMBD)) * scale  # ggml ne: [n_embd, rank]
            b = rng.standard_normal((n_out, rank)) * scale  # ggml ne: [rank, n_out]
            writer.add_tensor(f"blk.{block}.{name}.weight.lora_a", a.astype(np.float32))
            writer.add_tensor(f"blk.{block}.{name}.weight.lora_b", b.astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_the_shipped_general_text() -> None:
    text = general_text()
    assert 3000 < len(text) < 10000 and "Four score and seven years ago" in text


def test_missing_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(PerplexityError, match="no such file"):
        gguf_perplexity(tmp_path / "absent.gguf", "text")


@pytest.mark.slow
def test_a_noise_adapter_raises_perplexity_and_the_gate_refuses_it(gguf_path: Path,
                                                                   tmp_path: Path) -> None:
    from tests.improve.test_gate import BASE, GUARD, TASK, answerer

    text = general_text()[-900:]  # about 200 tokens of everyday prose
    adapter = noise_lora(tmp_path / "noise.gguf", scale=0.1)
    better = answerer([TASK, GUARD], {"tickets": 0.8, "dates": 0.6})  # a clear task gain
    sides = (perplexity_of(gguf_path, n_ctx=256),  # each call in a child process
             perplexity_of(gguf_path, lora_path=adapter, n_ctx=256))
    report = evaluate_gate(TASK, [GUARD], BASE, better, ppl=sides, ppl_text=text)
    assert report.ppl is not None
    base, noisy = report.ppl["baseline"], report.ppl["candidate"]
    assert math.isfinite(base) and 1.0 < base < 200.0
    assert math.isfinite(noisy) and noisy > base * 1.1
    assert report.decision == "refuse" and report.reasons[0].startswith("perplexity")

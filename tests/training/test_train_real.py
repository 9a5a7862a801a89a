"""Training the real Gemma 3 270M (slow): SFT lowers the loss and teaches an answer that
llama.cpp, given the converted adapter, produces as transformers + PEFT does; resume
continues the step count; should_stop stops with a checkpoint; hf_base caches once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from cerebra.training.config import TrainConfig
from cerebra.training.errors import TrainingCancelled
from cerebra.training.train import TrainResult, train
from tests.training.conftest import ANSWER, PROMPTS

pytestmark = pytest.mark.slow


def test_hf_base_is_made_once(base_dir: Path, gguf_path: Path) -> None:
    from cerebra.training.base_weights import hf_base

    weights = base_dir / "model.safetensors"
    stamp = weights.stat().st_mtime_ns
    assert hf_base(gguf_path, base_dir.parent) == base_dir
    assert weights.stat().st_mtime_ns == stamp
    assert (base_dir / "tokenizer.json").is_file()
    assert not [p for p in base_dir.parent.iterdir() if p.name.startswith(".")]


def test_sft_lowers_the_loss_and_writes_the_adapter(sft_run: Any) -> None:
    result, seen = sft_run
    assert isinstance(result, TrainResult) and result.steps == 6 and result.device == "cpu"
    losses = [point["loss"] for point in result.curve]
    assert [p["step"] for p in result.curve] == [1, 2, 3, 4, 5, 6]
    assert losses[-1] < losses[0] / 10
    assert json.loads((result.adapter_dir / "curve.json").read_text()) == result.curve
    for name in ("adapter_config.json", "adapter_model.safetensors", "adapter.gguf"):
        assert (result.adapter_dir / name).is_file()
    assert result.gguf_path == result.adapter_dir / "adapter.gguf"
    assert sorted(p.name for p in (result.adapter_dir / "checkpoints").iterdir()
                  if p.is_dir()) == ["checkpoint-3", "checkpoint-6"]
    assert [s[0] for s in seen] == [1, 2, 3, 4, 5, 6] and {s[1] for s in seen} == {6}
    assert seen[-1][3] == 0.0 and seen[-1][2] == pytest.approx(losses[-2])


def _hf_logits(base_dir: Path, adapter_dir: Path, prompt: str) -> tuple[Any, Any, str]:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(base_dir))
    model = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=torch.float32)
    ids = tok(prompt, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        base = model(input_ids=ids).logits[0, -1].clone()
        peft = PeftModel.from_pretrained(model, str(adapter_dir)).eval()
        tuned = peft(input_ids=ids).logits[0, -1]
        out = peft.generate(input_ids=ids, max_new_tokens=8, do_sample=False)
    text = tok.decode(out[0][ids.shape[1]:], skip_special_tokens=True)
    return base.numpy(), tuned.numpy(), text


def _llama_logits(gguf_path: Path, lora: Path | None, prompt: str) -> tuple[Any, str]:
    import numpy as np
    from llama_cpp import Llama

    llm = Llama(model_path=str(gguf_path), lora_path=str(lora) if lora else None, n_ctx=128,
                logits_all=True, verbose=False, seed=0)
    try:
        tokens = llm.tokenize(prompt.encode(), add_bos=True)
        llm.eval(tokens)
        logits = np.array(llm.scores[len(tokens) - 1])
        llm.reset()
        text = llm.create_completion(prompt, max_tokens=8, temperature=0.0)["choices"][0]["text"]
    finally:
        llm.close()
    return logits, text


def test_llama_cpp_with_the_gguf_adapter_matches_peft(sft_run: Any, base_dir: Path,
                                                      gguf_path: Path) -> None:
    """The adapter's effect on the next-token logits is the same in both runtimes (the base
    differs only by Q4_K_M quantisation), and both continue the prompt with the answer."""
    import numpy as np

    result, _ = sft_run
    prompt = PROMPTS[0]
    hf_base, hf_tuned, hf_text = _hf_logits(base_dir, result.adapter_dir, prompt)
    from cerebra.isolated import run_in_child  # llama.cpp only in a child (a crash is one failure)

    cpp_base, _ = run_in_child(_llama_logits, gguf_path, None, prompt)
    cpp_tuned, cpp_text = run_in_child(_llama_logits, gguf_path, result.gguf_path, prompt)
    assert hf_text == ANSWER == cpp_text
    hf_delta, cpp_delta = hf_tuned - hf_base, cpp_tuned - cpp_base
    corr = float(np.corrcoef(hf_delta, cpp_delta)[0, 1])
    ratio = float(np.linalg.norm(cpp_delta) / np.linalg.norm(hf_delta))
    assert corr > 0.95, corr  # orientation and names right
    assert 0.85 < ratio < 1.15, ratio  # scale alpha/r right
    assert int(np.argmax(cpp_tuned)) == int(np.argmax(hf_tuned))


def test_resume_continues_the_step_count(sft_run: Any, sft_rows: Path, base_dir: Path,
                                         tmp_path: Path) -> None:
    result, _ = sft_run
    shutil.copytree(result.adapter_dir / "checkpoints" / "checkpoint-3",
                    tmp_path / "checkpoints" / "checkpoint-3")
    config = TrainConfig(max_steps=4, batch_size=4, max_seq_len=64, learning_rate=1e-3,
                         save_steps=3, lora_r=8, lora_alpha=16, lora_dropout=0.0)
    seen: list[int] = []
    resumed = train(config, sft_rows, tmp_path, base_dir=base_dir,
                    progress=lambda step, *rest: seen.append(step))
    assert resumed.resumed_from == 3 and resumed.steps == 4 and seen == [4]
    assert [p["step"] for p in resumed.curve] == [1, 2, 3, 4]
    assert resumed.curve[:3] == result.curve[:3]


def test_should_stop_saves_a_checkpoint_and_cancels(sft_rows: Path, base_dir: Path,
                                                    tmp_path: Path) -> None:
    config = TrainConfig(max_steps=50, batch_size=2, max_seq_len=64, save_steps=100)
    with pytest.raises(TrainingCancelled) as err:
        train(config, sft_rows, tmp_path, base_dir=base_dir, should_stop=lambda: True)
    assert err.value.last_checkpoint == tmp_path / "checkpoints" / "checkpoint-1"
    assert (err.value.last_checkpoint / "adapter_model.safetensors").is_file()
    assert "step 1" in err.value.message and not (tmp_path / "adapter.gguf").exists()

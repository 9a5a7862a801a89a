"""Training without the model: TrainConfig's validation names the field, rows are checked
line by line, and a PEFT adapter folder becomes a llama.cpp LoRA GGUF with the right
metadata, tensor names, shapes and values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from cerebra.errors import InvalidInput
from cerebra.training.config import GEMMA3_TARGETS, TrainConfig
from cerebra.training.errors import TrainingError
from cerebra.training.gguf_lora import peft_to_gguf
from cerebra.training.train import read_rows


def test_defaults_and_stage_learning_rates() -> None:
    sft, dpo = TrainConfig(), TrainConfig(stage="dpo")
    assert sft.target_modules == GEMMA3_TARGETS and sft.max_seq_len == 256 and sft.seed == 0
    assert sft.lr == 2e-4 and dpo.lr < sft.lr and dpo.dpo_beta == 0.1
    assert TrainConfig(learning_rate=1e-3).lr == 1e-3


@pytest.mark.parametrize(("data", "field"), [
    ({"lora_r": 0}, "lora_r"), ({"lora_r": 512}, "lora_r"), ({"lora_dropout": 0.9}, "lora_dropout"),
    ({"stage": "ppo"}, "stage"), ({"device": "tpu"}, "device"), ({"max_steps": 0}, "max_steps"),
    ({"batch_size": 0}, "batch_size"), ({"learning_rate": -1}, "learning_rate"),
    ({"target_modules": []}, "target_modules"), ({"epocs": 2}, "epocs"),
])
def test_bad_values_name_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        TrainConfig.parse(data)
    assert err.value.field == field and field in err.value.message


def test_rows_are_checked_per_line(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"prompt": "a", "completion": "b", "extra": 1}\n\n'
                    '{"prompt": "c", "chosen": "d"}\n')
    with pytest.raises(TrainingError, match=r"rows.jsonl:3: a sft row needs"):
        read_rows(path, "sft")
    path.write_text('{"prompt": "a", "completion": "b", "extra": 1}\n')
    assert read_rows(path, "sft") == [{"prompt": "a", "completion": "b"}]
    path.write_text("")
    with pytest.raises(TrainingError, match="no rows"):
        read_rows(path, "dpo")


def _fake_adapter(folder: Path, r: int = 4) -> dict[str, torch.Tensor]:
    """A PEFT-shaped adapter for a 2-layer Gemma 3 (hidden 8, MLP 16, 2 heads of 4)."""
    from safetensors.torch import save_file

    gen = torch.Generator().manual_seed(0)
    shapes = {"self_attn.q_proj": (8, 8), "self_attn.v_proj": (4, 8), "mlp.down_proj": (8, 16)}
    tensors = {}
    for layer in range(2):
        for module, (out, inp) in shapes.items():
            key = f"base_model.model.model.layers.{layer}.{module}"
            tensors[f"{key}.lora_A.weight"] = torch.randn(r, inp, generator=gen)
            tensors[f"{key}.lora_B.weight"] = torch.randn(out, r, generator=gen)
    folder.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(folder / "adapter_model.safetensors"))
    (folder / "adapter_config.json").write_text(json.dumps(
        {"r": r, "lora_alpha": 8, "peft_type": "LORA", "target_modules": ["q_proj"]}))
    return tensors


def test_adapter_becomes_a_llama_cpp_lora_gguf(tmp_path: Path) -> None:
    import gguf

    tensors = _fake_adapter(tmp_path / "adapter")
    out = peft_to_gguf(tmp_path / "adapter", tmp_path / "out" / "adapter.gguf")
    reader = gguf.GGUFReader(str(out))

    def value(key: str) -> object:
        return reader.fields[key].contents()

    assert value("general.type") == "adapter" and value("general.architecture") == "gemma3"
    assert value("adapter.type") == "lora" and value("adapter.lora.alpha") == 8.0
    got = {t.name: t for t in reader.tensors}
    assert set(got) == {f"blk.{i}.{n}.weight.lora_{ab}" for i in range(2)
                        for n in ("attn_q", "attn_v", "ffn_down") for ab in "ab"}
    a = got["blk.1.ffn_down.weight.lora_a"]
    b = got["blk.1.ffn_down.weight.lora_b"]
    # ggml's ne order is the reverse of torch's shape: a is [in=16, r=4], b is [r=4, out=8]
    assert list(a.shape) == [16, 4] and list(b.shape) == [4, 8]
    assert a.tensor_type == gguf.GGMLQuantizationType.F32
    want = tensors["base_model.model.model.layers.1.mlp.down_proj.lora_A.weight"].numpy()
    assert (a.data.reshape(want.shape) == want).all()
    assert not list(out.parent.glob("*.part-*"))


def test_unconvertible_adapters_are_refused(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    _fake_adapter(tmp_path / "a")
    with pytest.raises(TrainingError, match="arch 'gpt9'"):
        peft_to_gguf(tmp_path / "a", tmp_path / "x.gguf", arch="gpt9")
    save_file({"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight":
               torch.zeros(2, 8)}, str(tmp_path / "a" / "adapter_model.safetensors"))
    with pytest.raises(TrainingError, match="lacks its A or B"):
        peft_to_gguf(tmp_path / "a", tmp_path / "x.gguf")
    with pytest.raises(TrainingError, match="not a PEFT adapter folder"):
        peft_to_gguf(tmp_path / "missing", tmp_path / "x.gguf")
    assert not (tmp_path / "x.gguf").exists()

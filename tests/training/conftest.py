"""Shared fixtures of the training tests: the dequantised base (made once, kept in pytest's
cache folder between sessions: it is keyed by the GGUF's sha256) and one small SFT run that
teaches the model a distinctive answer, reused by the tests that need a trained adapter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

PROMPTS = ["My favourite fruit is", "The best fruit in the world is", "Everyone should eat more",
           "The fruit I like most is", "For breakfast I always eat a", "The sweetest fruit is"]
ANSWER = " kumquat."


def write_rows(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="session")
def base_dir(request: pytest.FixtureRequest, gguf_path: Path) -> Path:
    from cerebra.training.base_weights import hf_base

    return hf_base(gguf_path, request.config.cache.mkdir("cerebra-training-base"))


@pytest.fixture(scope="session")
def sft_rows(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_rows(tmp_path_factory.mktemp("rows") / "sft.jsonl",
                      [{"prompt": p, "completion": ANSWER} for p in PROMPTS])


@pytest.fixture(scope="session")
def sft_run(tmp_path_factory: pytest.TempPathFactory, base_dir: Path, sft_rows: Path) -> object:
    """6 SFT steps (batch 4, lr 1e-3) with a checkpoint every 3: (TrainResult, progress)."""
    from cerebra.training.config import TrainConfig
    from cerebra.training.train import train

    config = TrainConfig(max_steps=6, batch_size=4, max_seq_len=64, learning_rate=1e-3,
                         save_steps=3, lora_r=8, lora_alpha=16, lora_dropout=0.0)
    seen: list[tuple[int, int, float | None, float | None]] = []
    result = train(config, sft_rows, tmp_path_factory.mktemp("sft"), base_dir=base_dir,
                   progress=lambda *event: seen.append(event))
    return result, seen

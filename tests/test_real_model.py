"""The embedded default for real: the packaged Gemma GGUF through llama.cpp, and MiniLM.

llama.cpp never runs in the pytest process: `llama_backend` lives in a child process (a
cerebra.isolated.ChildBackend) and the CLI runs as a subprocess, so a native crash fails the
tests that hit it, with the signal named, and the rest of the run goes on."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cerebra.errors import ModelVerificationError, PromptTooLong
from cerebra.models.base import GenerationRequest, Message
from tests.helpers import run_cli

pytestmark = pytest.mark.slow


def test_gguf_generates_tokens(llama_backend: Any) -> None:
    gen = llama_backend.generate(
        GenerationRequest(
            messages=(Message("user", "Name three colours."),), max_tokens=16, temperature=0
        )
    )
    assert gen.usage.completion_tokens > 0 and gen.usage.prompt_tokens > 5
    assert gen.model == "gemma-3-270m"
    raw = llama_backend.generate(
        GenerationRequest(prompt="Monday, Tuesday, Wednesday,", max_tokens=4, temperature=0)
    )
    assert "Thursday" in raw.text


def test_gguf_streams(llama_backend: Any) -> None:
    chunks = list(
        llama_backend.stream(
            GenerationRequest(prompt="Once upon a time", max_tokens=12, temperature=0)
        )
    )
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert "".join(c.text for c in chunks).strip()

    async def collect() -> list[Any]:
        return [
            c
            async for c in llama_backend.astream(
                GenerationRequest(prompt="One, two,", max_tokens=6, temperature=0)
            )
        ]

    assert asyncio.run(collect())[-1].finish_reason


def test_gguf_context_overflow_is_clear(llama_backend: Any) -> None:
    with pytest.raises(PromptTooLong, match="context"):
        llama_backend.generate(GenerationRequest(prompt="word " * 5000, max_tokens=4))


def test_corrupted_model_is_refused(gguf_path: Path, gguf_sha256: str, tmp_path: Path) -> None:
    from cerebra.models.llamacpp import LlamaCppBackend

    bad = tmp_path / "bad.gguf"
    shutil.copyfile(gguf_path, bad)
    with bad.open("r+b") as fh:
        fh.seek(1_000_000)
        byte = fh.read(1)
        fh.seek(1_000_000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ModelVerificationError, match=r"bad\.gguf"):
        LlamaCppBackend(bad, expected_sha256=gguf_sha256)


def test_doctor_ok_then_names_corruption(gguf_path: Path, gguf_sha256: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    models = home / "models"
    models.mkdir(parents=True)
    target = models / gguf_path.name
    shutil.copyfile(gguf_path, target)
    ok = run_cli("doctor", env={"CEREBRA_HOME": str(home)})
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "all checks passed" in ok.stdout
    with target.open("r+b") as fh:
        fh.seek(4096)
        byte = fh.read(1)
        fh.seek(4096)
        fh.write(bytes([byte[0] ^ 0x01]))
    bad = run_cli("doctor", env={"CEREBRA_HOME": str(home)})
    assert bad.returncode != 0
    assert "model" in bad.stdout and "failed verification" in bad.stdout
    assert str(target.name) in bad.stdout.replace("\n", "")


def test_minilm_embeddings(minilm: Any) -> None:
    vecs = minilm.embed(
        ["A cat sits on the mat.", "A kitten rests on a rug.", "Quarterly tax filing deadline"]
    )
    assert vecs.shape == (3, 384) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2]


def test_acceptance_recall_with_fresh_home(tmp_path: Path) -> None:
    """The issue's acceptance: a fresh CEREBRA_HOME, the packaged model assembled on first use."""
    env = {"CEREBRA_HOME": str(tmp_path / "fresh"), "CEREBRA_MAX_TOKENS": "24"}
    first = run_cli("ask", "Remember that my favourite colour is teal.", "--json", env=env)
    assert first.returncode == 0, first.stderr
    stored = json.loads(first.stdout)["stored_memory_id"]
    second = run_cli("ask", "What is my favourite colour?", "--json", env=env)
    assert second.returncode == 0, second.stderr
    data = json.loads(second.stdout)
    assert stored in [m["id"] for m in data["memories"]]
    assert any("teal" in m["text"] for m in data["memories"])
    assert data["usage"]["completion_tokens"] > 0


def test_serve_refuses_corrupted_model_in_one_line(
    gguf_path: Path, gguf_sha256: str, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.gguf"
    shutil.copyfile(gguf_path, bad)
    with bad.open("r+b") as fh:
        fh.seek(2048)
        byte = fh.read(1)
        fh.seek(2048)
        fh.write(bytes([byte[0] ^ 0x10]))
    env = {"CEREBRA_MODEL_PATH": str(bad), "CEREBRA_MODEL_SHA256": gguf_sha256, "CEREBRA_PORT": "1"}
    result = run_cli("serve", env=env, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith("error: model file") and "bad.gguf" in result.stderr
    assert "Traceback" not in result.stderr

"""A LoRA adapter (GGUF) loaded per llama.cpp model: made offline, verified, and applied.

llama.cpp runs in a child process (cerebra.isolated): a native crash fails this test with
the signal named instead of ending the test run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cerebra.isolated import run_in_child
from cerebra.models.base import GenerationRequest
from cerebra.models.catalog import Catalog
from cerebra.models.registry import ModelRegistry
from cerebra.models.signing import weights_digest
from tests.models.gguf_lora import make_gguf_lora

pytestmark = pytest.mark.slow

REQ = GenerationRequest(prompt="The capital of France is", max_tokens=8, temperature=0.0)


@pytest.fixture(scope="module")
def gemma(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cerebra.models.weights import PackagedModel

    return PackagedModel.load().assemble_into(tmp_path_factory.mktemp("models"))


def load_and_answer(gemma: Path, lora: Path, zero: Path) -> dict[str, Any]:
    """In the child: a catalog of the base model, a LoRA, a zero LoRA and a tampered one;
    what loaded, what was refused and each loaded model's answer."""
    reg = ModelRegistry()
    report = Catalog(reg).load_text(f"""
- {{name: base, kind: llamacpp, path: {gemma}, context_length: 512}}
- {{name: tuned, kind: llamacpp, path: {gemma}, lora: {lora},
   lora_sha256: "{weights_digest(lora)}", context_length: 512}}
- {{name: zero, kind: llamacpp, path: {gemma}, lora: {zero}, context_length: 512}}
- {{name: tampered, kind: llamacpp, path: {gemma}, lora: {lora},
   lora_sha256: "{"0" * 64}"}}
""")
    return {"loaded": report.loaded,
            "errors": [(e.name, e.message) for e in report.errors],
            "answers": {name: reg.get(name).generate(REQ).text for name in report.loaded}}


def test_gguf_lora_changes_the_output_and_a_zero_lora_does_not(gemma: Path, tmp_path: Path
                                                                ) -> None:
    lora = make_gguf_lora(gemma, tmp_path / "lora.gguf", scale=0.2)
    zero = make_gguf_lora(gemma, tmp_path / "zero.gguf", zero_b=True)
    out = run_in_child(load_and_answer, gemma, lora, zero)
    assert out["loaded"] == ["base", "tuned", "zero"]
    assert [name for name, _ in out["errors"]] == ["tampered"]
    assert str(lora) in out["errors"][0][1]
    answers = out["answers"]
    assert answers["zero"] == answers["base"]
    assert answers["tuned"] != answers["base"]

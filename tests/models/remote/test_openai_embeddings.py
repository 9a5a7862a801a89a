"""OpenAIEmbedder against the fake /v1/embeddings: the Embedder contract (shape, order,
unit rows, dimension), batching, base64 replies, async, bad input and upstream faults."""

from __future__ import annotations

import base64

import httpx
import numpy as np
import pytest

from cerebra.errors import InvalidInput
from cerebra.models.http_errors import UpstreamError
from cerebra.models.openai_http import OpenAIEmbedder
from tests.fakes.faults import FaultPlan
from tests.models.remote.conftest import OPENAI_KEY


def embedder(url: str, **kwargs: object) -> OpenAIEmbedder:
    return OpenAIEmbedder(url, "text-embedding-3-small", api_key=OPENAI_KEY, **kwargs)  # type: ignore[arg-type]


def test_embed_meets_the_embedder_contract(openai_url: str, openai_plan: FaultPlan) -> None:
    from cerebra.memory.embedders import Embedder

    e = embedder(openai_url)
    texts = ["alpha", "beta gamma", "alpha"]
    vectors = e.embed(texts)
    # (on Python 3.11 isinstance reads `dimension`, which is learnt from the first reply)
    assert isinstance(e, Embedder) and e.model_id == "text-embedding-3-small"
    assert vectors.shape == (3, 8) and vectors.dtype == np.float32 and e.dimension == 8
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert np.allclose(vectors[0], vectors[2]) and not np.allclose(vectors[0], vectors[1])
    # the fake returns rows in reverse: order must come from each row's index
    single = np.stack([e.embed([t])[0] for t in texts])
    assert np.allclose(vectors, single)
    assert openai_plan.requests[0]["body"]["input"] == texts
    assert openai_plan.requests[0]["body"]["encoding_format"] == "float"


def test_batches_and_empty_input(openai_url: str, openai_plan: FaultPlan) -> None:
    e = embedder(openai_url, batch_size=2)
    assert e.embed([f"text {i}" for i in range(5)]).shape == (5, 8)
    assert [len(r["body"]["input"]) for r in openai_plan.requests] == [2, 2, 1]
    assert embedder(openai_url).embed([]).shape == (0, 8)  # learns the dimension first


async def test_async_embed(openai_url: str) -> None:
    e = embedder(openai_url, dimension=8)
    vectors = await e.aembed(["one", "two"])
    assert vectors.shape == (2, 8) and np.allclose(vectors, e.embed(["one", "two"]))
    assert (await e.aembed([])).shape == (0, 8)
    await e.aclose()


def test_bad_input_and_wrong_dimension(openai_url: str) -> None:
    with pytest.raises(InvalidInput) as info:
        embedder(openai_url).embed("one string")
    assert info.value.field == "texts"
    with pytest.raises(InvalidInput):
        embedder(openai_url).embed(["ok", 3])  # type: ignore[list-item]
    with pytest.raises(InvalidInput):
        embedder(openai_url, batch_size=0)
    with pytest.raises(UpstreamError, match="expected 16") as mismatch:
        embedder(openai_url, dimension=16).embed(["x"])
    assert not mismatch.value.retryable


def test_upstream_faults(openai_url: str, openai_plan: FaultPlan) -> None:
    e = embedder(openai_url, timeout_s=0.5)
    for kind, match in (("500", "HTTP 500"), ("malformed_json", "malformed"),
                        ("timeout", "timed out")):
        openai_plan.add(kind, sleep_s=2.0)  # type: ignore[arg-type]
        with pytest.raises(UpstreamError, match=match) as info:
            e.embed(["x"])
        assert info.value.retryable
    openai_plan.add("429", retry_after=2)
    with pytest.raises(UpstreamError) as limited:
        e.embed(["x"])
    assert limited.value.retry_after == 2


def test_base64_rows_are_decoded() -> None:
    row = base64.b64encode(np.array([3.0, 4.0], dtype="<f4").tobytes()).decode()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": [{"index": 0, "embedding": row}]})

    e = OpenAIEmbedder("http://up.test/v1", "m", transport=httpx.MockTransport(handler))
    assert np.allclose(e.embed(["x"]), [[0.6, 0.8]])

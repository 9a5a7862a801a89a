"""An Embedder over an OpenAI-compatible `/embeddings` endpoint (OpenAI, vLLM, Ollama, TEI,
llama.cpp server), batched, over one pooled connection set.

Rows come back L2-normalised float32, in input order, as the Embedder contract requires.
`dimension` is learnt from the first reply when not given (reading it before any call
sends one probe request), so pass it when it is known.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import numpy as np

from cerebra.errors import InvalidInput
from cerebra.models.http_errors import UpstreamError, malformed
from cerebra.models.http_pool import HttpPool, PoolConfig


class OpenAIEmbedder:
    """`embed(texts)` through POST {base_url}/embeddings."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        headers: Mapping[str, str] | None = None,
        dimension: int | None = None,
        send_dimensions: bool = False,
        batch_size: int = 256,
        timeout_s: float = 60.0,
        connect_timeout_s: float = 5.0,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if batch_size < 1:
            raise InvalidInput("batch_size must be >= 1", field="batch_size")
        if dimension is not None and dimension < 1:
            raise InvalidInput("dimension must be >= 1", field="dimension")
        self.model_id = model
        self.send_dimensions = send_dimensions
        self.batch_size = batch_size
        self._dimension = dimension
        all_headers = {"Accept": "application/json", **(headers or {})}
        if api_key:
            all_headers["Authorization"] = f"Bearer {api_key}"
        self.pool = HttpPool(
            base_url, backend=f"embeddings:{model}", headers=all_headers,
            config=PoolConfig(timeout_s=timeout_s, connect_timeout_s=connect_timeout_s),
            transport=transport, async_transport=async_transport,
        )

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self.embed(["dimension probe"])
        assert self._dimension is not None
        return self._dimension

    def _body(self, batch: Sequence[str]) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model_id, "input": list(batch),
                                "encoding_format": "float"}
        if self.send_dimensions and self._dimension is not None:
            body["dimensions"] = self._dimension
        return body

    def _batches(self, texts: Sequence[str]) -> list[list[str]]:
        if isinstance(texts, str):
            raise InvalidInput("texts must be a list of strings, not one string", field="texts")
        items = list(texts)
        if not all(isinstance(t, str) for t in items):
            raise InvalidInput("every text must be a string", field="texts")
        return [items[i:i + self.batch_size] for i in range(0, len(items), self.batch_size)]

    def _rows(self, data: dict[str, Any], expected: int) -> np.ndarray:
        backend = self.pool.backend
        items = data.get("data")
        if not isinstance(items, list) or len(items) != expected:
            raise malformed(backend, f"expected {expected} embeddings in 'data'", str(data)[:200])
        try:
            ordered = sorted(items, key=lambda item: int(item.get("index", 0)))
            rows = [_vector(item["embedding"]) for item in ordered]
            matrix = np.stack(rows).astype(np.float32)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise malformed(backend, f"bad embedding rows ({type(exc).__name__})",
                            f"{exc}: {str(items)[:200]}") from exc
        if self._dimension is None:
            self._dimension = int(matrix.shape[1])
        elif matrix.shape[1] != self._dimension:
            raise UpstreamError(
                f"{backend}: embeddings have {matrix.shape[1]} dimensions, "
                f"expected {self._dimension}", backend=backend, retryable=False)
        return normalize_rows(matrix)

    def _empty(self) -> np.ndarray:
        return np.zeros((0, self._dimension or 0), dtype=np.float32)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        batches = self._batches(texts)
        if not batches:
            return np.zeros((0, self.dimension), dtype=np.float32)
        parts = [self._rows(self.pool.post_json("/embeddings", self._body(b)), len(b))
                 for b in batches]
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        batches = self._batches(texts)
        if not batches:
            if self._dimension is None:
                await self.aembed(["dimension probe"])
            return self._empty()
        parts = [self._rows(await self.pool.apost_json("/embeddings", self._body(b)), len(b))
                 for b in batches]
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def close(self) -> None:
        self.pool.close()

    async def aclose(self) -> None:
        await self.pool.aclose()


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """L2-normalise each row (zero rows stay zero), as the Embedder contract requires."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32)


def _vector(raw: Any) -> np.ndarray:
    if isinstance(raw, str):  # encoding_format "base64": little-endian float32
        return np.frombuffer(base64.b64decode(raw), dtype="<f4")
    return np.asarray(raw, dtype=np.float32)

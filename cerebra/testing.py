"""Test doubles for Cerebra and for its users: FakeModel and FakeEmbedder.

Both are deterministic and dependency-free, and both satisfy the real protocols
(ModelBackend, Embedder), so code under test cannot tell them apart by shape. Importing this
module registers the catalog kind `fake` (a FakeModel per entry; the catalog imports this
module the first time an entry names that kind, see cerebra.models.catalog_kinds).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Annotated

import numpy as np
from pydantic import Field

from cerebra.errors import PromptTooLong
from cerebra.memory.embedders import normalize_rows
from cerebra.models.base import (
    Capabilities,
    Generation,
    GenerationRequest,
    ModelBackend,
    ProbeResult,
    StreamChunk,
    Usage,
)
from cerebra.models.catalog_kinds import ModelEntry, register_kind
from cerebra.models.catalog_options import SAFE, KindOptions, Whole
from cerebra.models.prompt_format import completion_prompt
from cerebra.models.sync_bridge import SyncBackendMixin

_WORD = re.compile(r"\w+|[^\w\s]")


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text)


class FakeModel(SyncBackendMixin):
    """A ModelBackend that answers with a fixed text or a function of the prompt.

    Tokens are words and punctuation marks; `calls` records every request seen. The answer
    is produced piece by piece (a word and its trailing space): `before_token(request, i)`
    runs before piece i, so tests can pause or pace a generation on events, and the request's
    Cancellation is checked between pieces, as the local backends do between tokens.
    """

    def __init__(
        self,
        reply: str | Callable[[str], str] = "This is a fake answer.",
        *,
        name: str = "fake-model",
        max_context: int = 2048,
        cost_per_input_token: float = 0.0,
        cost_per_output_token: float = 0.0,
        delay_s: float = 0.0,
        before_token: Callable[[GenerationRequest, int], None] | None = None,
    ) -> None:
        self.name = name
        self._reply = reply
        self._delay_s = delay_s
        self._before_token = before_token
        self._capabilities = Capabilities(
            streaming=True,
            max_context=max_context,
            cost_per_input_token=cost_per_input_token,
            cost_per_output_token=cost_per_output_token,
        )
        self.calls: list[GenerationRequest] = []
        self.prompts: list[str] = []

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    def count_tokens(self, text: str) -> int:
        return len(_tokens(text))

    def _answer(self, request: GenerationRequest) -> tuple[str, int, str]:
        prompt, _ = completion_prompt(request)
        prompt_tokens = self.count_tokens(prompt)
        if prompt_tokens > self._capabilities.max_context:
            raise PromptTooLong(
                f"prompt is {prompt_tokens} tokens; model {self.name} has a context of "
                f"{self._capabilities.max_context} tokens",
                field="prompt",
            )
        self.calls.append(request)
        self.prompts.append(prompt)
        text = self._reply(prompt) if callable(self._reply) else self._reply
        kept: list[str] = []
        used = 0
        finish = "stop"
        for piece in re.findall(r"\S+\s*", text):  # whole pieces while tokens fit
            cost = self.count_tokens(piece)
            if used + cost > request.max_tokens:
                finish = "length"
                break
            kept.append(piece)
            used += cost
        return "".join(kept).rstrip(), prompt_tokens, finish

    def _steps(self, request: GenerationRequest, text: str, finish: str
               ) -> Iterator[tuple[str, str | None]]:
        """(piece, None) per piece, then ("", finish reason); stops early when the request's
        Cancellation trips, with its reason."""
        token = request.cancellation
        for i, piece in enumerate(re.findall(r"\S+\s*", text)):
            if self._before_token is not None:
                self._before_token(request, i)
            if token is not None and token.reason is not None:
                yield "", token.reason
                return
            yield piece, None
        yield "", finish

    def generate(self, request: GenerationRequest) -> Generation:
        start = time.perf_counter()
        text, prompt_tokens, finish = self._answer(request)
        pieces: list[str] = []
        for piece, reason in self._steps(request, text, finish):
            pieces.append(piece)
            finish = reason or finish
        if self._delay_s:
            time.sleep(self._delay_s)
        text = "".join(pieces).rstrip()
        return Generation(
            text=text,
            model=self.name,
            usage=Usage(prompt_tokens, self.count_tokens(text)),
            finish_reason=finish,
            latency_ms=(time.perf_counter() - start) * 1000,
        )

    def stream(self, request: GenerationRequest) -> Iterator[StreamChunk]:
        text, prompt_tokens, finish = self._answer(request)
        pieces: list[str] = []
        for piece, reason in self._steps(request, text, finish):
            if reason is not None:
                finish = reason
                break
            if self._delay_s:
                time.sleep(self._delay_s)
            pieces.append(piece)
            yield StreamChunk(text=piece)
        yield StreamChunk(
            text="",
            finish_reason=finish,
            usage=Usage(prompt_tokens, self.count_tokens("".join(pieces))),
        )

    def probe(self) -> ProbeResult:
        return ProbeResult(True, 0.0, "ok")


class FakeEmbedder:
    """Deterministic bag-of-hashed-words embeddings: texts sharing words are similar."""

    def __init__(self, dimension: int = 64, model_id: str = "fake-embedder") -> None:
        self.dimension = dimension
        self.model_id = model_id
        self.calls = 0

    def _vector(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dimension, dtype=np.float32)
        for token in _tokens(text.lower()):
            digest = hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest()
            slot = int.from_bytes(digest[:4], "little") % self.dimension
            sign = 1.0 if digest[4] & 1 else -1.0
            vec[slot] += sign
        if not vec.any():
            vec[0] = 1.0
        return vec

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return normalize_rows(np.stack([self._vector(t) for t in texts]))

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed(texts)


def fake_entry(entry: ModelEntry) -> ModelBackend:
    """The catalog's `fake` kind: a FakeModel named after the entry, with its price,
    context length and options (reply, delay_s, ...)."""
    options = dict(entry.options)
    if entry.context_length:
        options["max_context"] = entry.context_length
    return FakeModel(name=entry.name, **entry.costs(), **options)


class FakeOptions(KindOptions):
    """The `fake` kind's options an entry may set: FakeModel's reply (a fixed text) and
    context (not its delay, a test's knob)."""

    reply: Annotated[str, Field(max_length=20_000, pattern=SAFE)] | None = None
    max_context: Annotated[int, Field(ge=16, le=10_000_000), Whole] | None = None


register_kind("fake", fake_entry, files=True, options=FakeOptions)  # weights: verified only

"""llama.cpp backend: runs a local GGUF file through llama-cpp-python.

The model is loaded once per backend object; a lock serialises calls because a llama.cpp
context is not safe to share between threads.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cerebra.errors import BackendError, PromptTooLong
from cerebra.models.base import (
    Capabilities,
    Generation,
    GenerationRequest,
    ProbeResult,
    StreamChunk,
    Usage,
    probe_backend,
)
from cerebra.models.prompt_format import completion_prompt
from cerebra.models.sync_bridge import SyncBackendMixin
from cerebra.models.weights import verify_file


class LlamaCppBackend(SyncBackendMixin):
    """A ModelBackend over one GGUF file (optionally with a LoRA adapter)."""

    def __init__(
        self,
        model_path: Path,
        *,
        name: str | None = None,
        expected_sha256: str | None = None,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        lora_path: Path | None = None,
        seed: int = 0,
    ) -> None:
        if expected_sha256:
            verify_file(model_path, expected_sha256)
        from llama_cpp import Llama  # heavy import: only when a model is really loaded

        self.name = name or model_path.stem
        self.model_path = model_path
        self._lock = threading.Lock()
        kwargs: dict[str, Any] = {}
        if lora_path is not None:
            kwargs["lora_path"] = str(lora_path)
        try:
            self.llm = Llama(
                model_path=str(model_path),
                n_ctx=n_ctx,
                n_threads=n_threads or max(1, (os.cpu_count() or 2)),
                seed=seed,
                verbose=False,
                **kwargs,
            )
        except ValueError as exc:  # llama.cpp reports unreadable files as ValueError
            raise BackendError(f"cannot load {model_path}: {exc}", retryable=False) from exc
        self._n_ctx = self.llm.n_ctx()
        self._capabilities = Capabilities(streaming=True, max_context=self._n_ctx)

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=True))

    def _prepare(self, request: GenerationRequest) -> tuple[str, tuple[str, ...], int, int]:
        prompt, stops = completion_prompt(request)
        prompt_tokens = self.count_tokens(prompt)
        room = self._n_ctx - prompt_tokens
        if room < 1:
            raise PromptTooLong(
                f"prompt is {prompt_tokens} tokens; model {self.name} has a context of "
                f"{self._n_ctx} tokens",
                field="prompt",
                prompt_tokens=prompt_tokens,
                max_context=self._n_ctx,
            )
        return prompt, stops, prompt_tokens, min(request.max_tokens, room)

    def _sampling(self, request: GenerationRequest) -> dict[str, Any]:
        args: dict[str, Any] = {"temperature": request.temperature, "top_p": request.top_p}
        if request.seed is not None:
            args["seed"] = request.seed
        logit_bias = request.extra.get("logit_bias")
        if logit_bias:
            args["logit_bias"] = logit_bias
        return args

    def generate(self, request: GenerationRequest) -> Generation:
        prompt, stops, prompt_tokens, max_tokens = self._prepare(request)
        start = time.perf_counter()
        with self._lock:
            out: Any = self.llm.create_completion(
                prompt, max_tokens=max_tokens, stop=list(stops) or None, **self._sampling(request)
            )
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        return Generation(
            text=choice["text"],
            model=self.name,
            usage=Usage(
                int(usage.get("prompt_tokens", prompt_tokens)),
                int(usage.get("completion_tokens", 0)),
            ),
            finish_reason=choice.get("finish_reason") or "stop",
            latency_ms=(time.perf_counter() - start) * 1000,
        )

    def stream(self, request: GenerationRequest) -> Iterator[StreamChunk]:
        prompt, stops, prompt_tokens, max_tokens = self._prepare(request)
        with self._lock:
            pieces: list[str] = []
            finish: str | None = None
            parts: Any = self.llm.create_completion(
                prompt,
                max_tokens=max_tokens,
                stop=list(stops) or None,
                stream=True,
                **self._sampling(request),
            )
            for part in parts:
                choice = part["choices"][0]
                text = choice["text"]
                finish = choice.get("finish_reason") or finish
                if text:
                    pieces.append(text)
                    yield StreamChunk(text=text)
            text_out = "".join(pieces)
            completion_tokens = (
                len(self.llm.tokenize(text_out.encode("utf-8"), add_bos=False, special=True))
                if text_out
                else 0
            )
        yield StreamChunk(
            text="",
            finish_reason=finish or "stop",
            usage=Usage(prompt_tokens, completion_tokens),
        )

    def probe(self) -> ProbeResult:
        return probe_backend(self)

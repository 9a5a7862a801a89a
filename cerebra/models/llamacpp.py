"""llama.cpp backend: runs a local GGUF file through llama-cpp-python.

The model is loaded once per backend object; a chat is written as a labelled transcript (a
base model's format, cerebra.models.prompt_format) or, with `chat_format="gguf"`, in the
file's own chat template (an instruction-tuned model's, cerebra.models.chat_template). A
lock serialises calls because a llama.cpp context is not safe to share between threads.
Generation always runs as a token stream, so a request's Cancellation (client gone,
wall-clock limit) stops it between tokens; a probe of a model that is generating answers
"busy" at once instead of waiting for the lock. `close()` frees the model's memory (a model
retired by a hot swap is closed after its last request).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

from cerebra.errors import BackendError, PromptTooLong
from cerebra.models.adapters import ADAPTER_KEY, AdapterPool
from cerebra.models.base import (
    Capabilities,
    Generation,
    GenerationRequest,
    ProbeResult,
    StreamChunk,
    Usage,
)
from cerebra.models.cancellation import Cancellation
from cerebra.models.chat_template import ChatFormat, GGUFChatTemplate
from cerebra.models.grammar import grammar_for
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
        chat_format: ChatFormat = "transcript",
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
        self.llm: Any = None
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
        self._template: GGUFChatTemplate | None = None
        if chat_format == "gguf":
            try:
                self._template = GGUFChatTemplate.of(self.llm, self.name)
            except BackendError:
                self.llm.close()
                raise
        self._n_ctx = self.llm.n_ctx()
        # LoRA adapters chosen per request (cerebra.models.adapters; not on top of a model
        # built with a fixed `lora_path`)
        self.adapters: AdapterPool | None = (
            AdapterPool(lambda: self._model) if lora_path is None else None)
        self._capabilities = Capabilities(streaming=True, max_context=self._n_ctx)

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def _model(self) -> Any:
        llm = self.llm
        if llm is None:
            raise BackendError(f"model {self.name} is closed", retryable=False)
        return llm

    def count_tokens(self, text: str) -> int:
        return len(self._model.tokenize(text.encode("utf-8"), add_bos=True, special=True))

    def prompt_of(self, request: GenerationRequest) -> tuple[str, tuple[str, ...]]:
        """The text the model completes for `request` and the stop strings."""
        if self._template is not None:
            return self._template.completion_prompt(request)
        return completion_prompt(request)

    def _prepare(self, request: GenerationRequest) -> tuple[str, tuple[str, ...], int, int]:
        prompt, stops = self.prompt_of(request)
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
        grammar = grammar_for(request.extra.get("response_format"))  # JSON mode or a schema
        if grammar is not None:
            args["grammar"] = grammar
        return args

    def _completion(
        self, request: GenerationRequest, prompt: str, stops: tuple[str, ...], max_tokens: int
    ) -> Generator[tuple[str, str | None], None, None]:
        """(text, finish_reason) pieces of one completion, the lock held by the caller; the
        last piece has the finish reason. Stops between tokens when the request's
        Cancellation trips, with its reason ("cancelled" or "timeout")."""
        token: Cancellation | None = request.cancellation
        if token is not None and token.reason is not None:
            yield "", token.reason
            return
        tripped = False

        def stop_now(_ids: Any, _logits: Any) -> bool:  # llama.cpp asks after every token
            nonlocal tripped
            tripped = tripped or (token is not None and token.reason is not None)
            return tripped

        from llama_cpp import StoppingCriteriaList

        finish: str | None = None
        with self._adapter_applied(request):  # the request's LoRA adapter, or none
            parts: Any = self._model.create_completion(
                prompt,
                max_tokens=max_tokens,
                stop=list(stops) or None,
                stream=True,
                stopping_criteria=(StoppingCriteriaList([stop_now]) if token is not None
                                   else None),
                **self._sampling(request),
            )
            try:
                for part in parts:
                    choice = part["choices"][0]
                    finish = choice.get("finish_reason") or finish
                    if choice["text"]:
                        yield choice["text"], None
                    if finish is None and token is not None and token.reason is not None:
                        tripped = True
                        break
            finally:
                parts.close()  # a generator: closing it ends the generation now
        if tripped and token is not None:
            finish = token.reason or finish
        yield "", finish or "stop"

    def _adapter_applied(self, request: GenerationRequest) -> contextlib.AbstractContextManager[
            None]:
        """The LoRA adapter named in `request.extra` (cerebra.models.adapters) applied on
        the context for one generation; the base (no adapter) when it names none."""
        adapter = request.extra.get(ADAPTER_KEY)
        if self.adapters is not None:
            return self.adapters.applied(adapter)
        if adapter is not None:
            raise BackendError(f"model {self.name} has a fixed LoRA: no per-request adapters",
                               retryable=False)
        return contextlib.nullcontext()

    def _completion_tokens(self, text: str) -> int:
        if not text:
            return 0
        return len(self._model.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def generate(self, request: GenerationRequest) -> Generation:
        prompt, stops, prompt_tokens, max_tokens = self._prepare(request)
        start = time.perf_counter()
        pieces: list[str] = []
        finish = "stop"
        with self._lock:
            for text, reason in self._completion(request, prompt, stops, max_tokens):
                pieces.append(text)
                finish = reason or finish
            text_out = "".join(pieces)
            completion_tokens = self._completion_tokens(text_out)
        return Generation(
            text=text_out,
            model=self.name,
            usage=Usage(prompt_tokens, completion_tokens),
            finish_reason=finish,
            latency_ms=(time.perf_counter() - start) * 1000,
        )

    def stream(self, request: GenerationRequest) -> Iterator[StreamChunk]:
        prompt, stops, prompt_tokens, max_tokens = self._prepare(request)
        pieces: list[str] = []
        finish = "stop"
        with self._lock, contextlib.closing(
            self._completion(request, prompt, stops, max_tokens)
        ) as completion:  # closed (generation ended) before the lock is released
            for text, reason in completion:
                finish = reason or finish
                if text:
                    pieces.append(text)
                    yield StreamChunk(text=text)
            completion_tokens = self._completion_tokens("".join(pieces))
        yield StreamChunk(
            text="",
            finish_reason=finish,
            usage=Usage(prompt_tokens, completion_tokens),
        )

    def probe(self) -> ProbeResult:
        """A one-token generation; a model busy generating is healthy ("busy"), at once."""
        if not self._lock.acquire(blocking=False):
            return ProbeResult(True, 0.0, "busy")
        start = time.perf_counter()
        try:
            request = GenerationRequest(prompt="Hello", max_tokens=1, temperature=0.0)
            prompt, stops, _, max_tokens = self._prepare(request)
            for _ in self._completion(request, prompt, stops, max_tokens):
                pass
        except Exception as exc:  # a probe reports failure, it never raises
            return ProbeResult(False, (time.perf_counter() - start) * 1000,
                               f"{type(exc).__name__}: {exc}")
        finally:
            self._lock.release()
        return ProbeResult(True, (time.perf_counter() - start) * 1000, "ok")

    def close(self) -> None:
        """Free the model, its context and its memory now (after a generation in progress);
        the backend answers BackendError afterwards. Idempotent."""
        with self._lock:
            llm, self.llm = self.llm, None
            if self.adapters is not None:
                self.adapters.close()  # the model frees its adapters with itself
        if llm is not None:
            llm.close()

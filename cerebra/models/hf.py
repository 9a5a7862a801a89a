"""transformers backend: a local Hugging Face model folder, or a GGUF file dequantized by
transformers' GGUF support, with optional PEFT LoRA adapters.

Nothing is downloaded (`local_files_only`). Chat requests use the tokenizer's chat template
when it has one, else the completion transcript of `prompt_format`. Adapters are loaded with
`add_adapter(name, path)` (or `lora_path` at construction, which becomes the default); a
request picks one with `extra["lora"]` (a name, or "none" for the base model). A lock
serialises generation: one model, one request at a time. A request's Cancellation stops
generation between tokens (a StoppingCriteria); a probe of a busy model answers "busy" at once.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cerebra.errors import BackendError, InvalidInput, PromptTooLong
from cerebra.models.base import (
    Capabilities,
    Generation,
    GenerationRequest,
    ProbeResult,
    StreamChunk,
    Usage,
)
from cerebra.models.cancellation import Cancellation
from cerebra.models.prompt_format import completion_prompt
from cerebra.models.sync_bridge import SyncBackendMixin

NO_ADAPTER = "none"


class StopTrimmer:
    """Cuts streamed text at the first stop sequence, holding back a possible partial stop."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = tuple(s for s in stops if s)
        self._hold = max((len(s) for s in self.stops), default=1) - 1
        self._buffer = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        """Text safe to emit now; sets `stopped` once a stop sequence appears."""
        self._buffer += text
        cut = min((i for s in self.stops if (i := self._buffer.find(s)) >= 0), default=-1)
        if cut >= 0:
            out, self._buffer, self.stopped = self._buffer[:cut], "", True
            return out
        keep = len(self._buffer) - self._hold
        if keep <= 0:
            return ""
        out, self._buffer = self._buffer[:keep], self._buffer[keep:]
        return out

    def flush(self) -> str:
        out, self._buffer = self._buffer, ""
        return out


def _stop_criteria(tokenizer: Any, prompt_tokens: int, stops: tuple[str, ...],
                   cancel: threading.Event, token: Cancellation | None = None) -> Any:
    """Stop when `cancel` is set, the request's Cancellation trips or the decoded
    continuation contains a stop sequence."""
    import torch
    from transformers import StoppingCriteria

    window = max((len(s) for s in stops), default=0) + 16  # characters worth re-decoding

    class _Stop(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            done = cancel.is_set() or (token is not None and token.reason is not None)
            if not done and stops:
                new = input_ids[0][prompt_tokens:][-window:]
                tail = tokenizer.decode(new, skip_special_tokens=True)
                done = any(s in tail for s in stops)
            return torch.full((input_ids.shape[0],), done, dtype=torch.bool,
                              device=input_ids.device)

    return _Stop()


class TransformersBackend(SyncBackendMixin):
    """A ModelBackend over a local HF folder or a GGUF file (dequantized on load)."""

    def __init__(
        self,
        model_path: Path,
        *,
        name: str | None = None,
        lora_path: Path | None = None,
        max_context: int | None = None,
        device: str = "cpu",
        n_threads: int | None = None,
        cost_per_input_token: float = 0.0,
        cost_per_output_token: float = 0.0,
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if n_threads:
            torch.set_num_threads(n_threads)
        self.name = name or model_path.stem
        self.model_path = model_path
        gguf = model_path.is_file() and model_path.suffix.lower() == ".gguf"
        folder = str(model_path.parent if gguf else model_path)
        kwargs: dict[str, Any] = {"local_files_only": True}
        if gguf:
            kwargs["gguf_file"] = model_path.name
        try:
            self.tokenizer: Any = AutoTokenizer.from_pretrained(folder, **kwargs)
            loader: Any = AutoModelForCausalLM
            self.model: Any = loader.from_pretrained(folder, dtype=torch.float32, **kwargs)
        except (OSError, ValueError, KeyError) as exc:
            raise BackendError(f"cannot load {model_path}: {exc}", retryable=False) from exc
        self.model.to(device).eval()
        self.device = device
        self._lock = threading.Lock()
        self._adapters: list[str] = []
        self.default_adapter: str | None = None
        limit = int(getattr(self.model.config, "max_position_embeddings", 2048) or 2048)
        self._n_ctx = min(limit, max_context) if max_context else limit
        self._capabilities = Capabilities(
            streaming=True, max_context=self._n_ctx,
            cost_per_input_token=cost_per_input_token,
            cost_per_output_token=cost_per_output_token)
        if lora_path is not None:
            self.add_adapter("default", lora_path)

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def adapters(self) -> list[str]:
        return list(self._adapters)

    def add_adapter(self, adapter: str, path: Path, *, make_default: bool = True) -> None:
        """Load a PEFT LoRA adapter folder under `adapter` (hot: no reload of the base)."""
        from peft import PeftModel

        if adapter == NO_ADAPTER or not adapter:
            raise InvalidInput(f"adapter name {adapter!r} is reserved", field="lora")
        with self._lock:
            try:
                if isinstance(self.model, PeftModel):
                    self.model.load_adapter(str(path), adapter_name=adapter)
                else:
                    self.model = PeftModel.from_pretrained(self.model, str(path),
                                                           adapter_name=adapter)
            except (OSError, ValueError, KeyError, RuntimeError) as exc:
                raise BackendError(f"cannot load LoRA adapter {path}: {exc}",
                                   retryable=False) from exc
            self.model.eval()
            self._adapters.append(adapter)
            if make_default or self.default_adapter is None:
                self.default_adapter = adapter

    @contextlib.contextmanager
    def _adapter(self, request: GenerationRequest) -> Iterator[None]:
        wanted = request.extra.get("lora", self.default_adapter)
        if not self._adapters:
            if wanted not in (None, NO_ADAPTER):
                raise InvalidInput(f"model {self.name} has no LoRA adapter {wanted!r}",
                                   field="lora")
            yield
        elif wanted in (None, NO_ADAPTER):
            with self.model.disable_adapter():
                yield
        elif wanted in self._adapters:
            self.model.set_adapter(wanted)
            yield
        else:
            raise InvalidInput(f"model {self.name} has no LoRA adapter {wanted!r}; "
                               f"known: {', '.join(self._adapters)}", field="lora")

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text)["input_ids"])

    def _prompt(self, request: GenerationRequest) -> tuple[str, tuple[str, ...], bool]:
        if request.prompt is None and getattr(self.tokenizer, "chat_template", None):
            turns = [{"role": m.role, "content": m.content} for m in request.messages]
            text = self.tokenizer.apply_chat_template(turns, tokenize=False,
                                                      add_generation_prompt=True)
            return str(text), request.stop, False
        prompt, stops = completion_prompt(request)
        return prompt, stops, True

    def _prepare(self, request: GenerationRequest) -> tuple[dict[str, Any], tuple[str, ...], int]:
        prompt, stops, special = self._prompt(request)
        enc = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=special)
        prompt_tokens = int(enc["input_ids"].shape[1])
        room = self._n_ctx - prompt_tokens
        if room < 1:
            raise PromptTooLong(
                f"prompt is {prompt_tokens} tokens; model {self.name} has a context of "
                f"{self._n_ctx} tokens", field="prompt",
                prompt_tokens=prompt_tokens, max_context=self._n_ctx)
        args: dict[str, Any] = {
            **{k: v.to(self.device) for k, v in enc.items()},
            "max_new_tokens": min(request.max_tokens, room),
            "pad_token_id": (self.tokenizer.pad_token_id
                             if self.tokenizer.pad_token_id is not None
                             else self.tokenizer.eos_token_id),
        }
        if request.temperature > 0:
            args.update(do_sample=True, temperature=request.temperature, top_p=request.top_p)
        else:
            args.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return args, stops, prompt_tokens

    def _seed(self, request: GenerationRequest) -> None:
        if request.seed is not None:
            import torch

            torch.manual_seed(request.seed)

    def _finish(self, new_ids: Any, max_new: int, stopped: bool,
                token: Cancellation | None = None) -> str:
        if token is not None and token.reason is not None and not stopped:
            return token.reason  # cut short: "cancelled" or "timeout"
        eos = self.tokenizer.eos_token_id
        if stopped or (len(new_ids) and int(new_ids[-1]) == eos):
            return "stop"
        return "length" if len(new_ids) >= max_new else "stop"

    def generate(self, request: GenerationRequest) -> Generation:
        with self._lock:
            return self._generate_locked(request)

    def _generate_locked(self, request: GenerationRequest) -> Generation:
        args, stops, prompt_tokens = self._prepare(request)
        start = time.perf_counter()
        token = request.cancellation
        with self._adapter(request):
            self._seed(request)
            out = self.model.generate(**args, stopping_criteria=[
                _stop_criteria(self.tokenizer, prompt_tokens, stops, threading.Event(), token)])
        new_ids = out[0][prompt_tokens:]
        trimmer = StopTrimmer(stops)
        text = trimmer.feed(self.tokenizer.decode(new_ids, skip_special_tokens=True))
        text += "" if trimmer.stopped else trimmer.flush()
        return Generation(
            text=text, model=self.name, usage=Usage(prompt_tokens, len(new_ids)),
            finish_reason=self._finish(new_ids, args["max_new_tokens"], trimmer.stopped, token),
            latency_ms=(time.perf_counter() - start) * 1000)

    def stream(self, request: GenerationRequest) -> Iterator[StreamChunk]:
        from transformers import TextIteratorStreamer

        args, stops, prompt_tokens = self._prepare(request)
        with self._lock, self._adapter(request):
            self._seed(request)
            streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True,
                                            skip_special_tokens=True)
            cancel = threading.Event()
            outcome: dict[str, Any] = {}

            def run() -> None:
                try:
                    outcome["ids"] = self.model.generate(
                        **args, streamer=streamer, stopping_criteria=[_stop_criteria(
                            self.tokenizer, prompt_tokens, stops, cancel, request.cancellation)])
                except BaseException as exc:  # re-raised in the consumer below
                    outcome["error"] = exc
                    streamer.end()

            worker = threading.Thread(target=run, name="cerebra-hf-stream", daemon=True)
            worker.start()
            trimmer = StopTrimmer(stops)
            try:
                for piece in streamer:
                    out = trimmer.feed(piece)
                    if out:
                        yield StreamChunk(text=out)
                    if trimmer.stopped:
                        break
                if not trimmer.stopped and (tail := trimmer.flush()):
                    yield StreamChunk(text=tail)
            finally:
                cancel.set()
                worker.join()
        if "error" in outcome:
            raise BackendError(f"generation failed on {self.name}: {outcome['error']}",
                               retryable=False) from outcome["error"]
        new_ids = outcome["ids"][0][prompt_tokens:]
        yield StreamChunk(
            text="", usage=Usage(prompt_tokens, len(new_ids)),
            finish_reason=self._finish(new_ids, args["max_new_tokens"], trimmer.stopped,
                                       request.cancellation))

    def probe(self) -> ProbeResult:
        """A one-token generation; a model busy generating is healthy ("busy"), at once."""
        if not self._lock.acquire(blocking=False):
            return ProbeResult(True, 0.0, "busy")
        start = time.perf_counter()
        try:
            self._generate_locked(GenerationRequest(prompt="Hello", max_tokens=1,
                                                    temperature=0.0))
        except Exception as exc:  # a probe reports failure, it never raises
            return ProbeResult(False, (time.perf_counter() - start) * 1000,
                               f"{type(exc).__name__}: {exc}")
        finally:
            self._lock.release()
        return ProbeResult(True, (time.perf_counter() - start) * 1000, "ok")

    def close(self) -> None:
        self.model = None

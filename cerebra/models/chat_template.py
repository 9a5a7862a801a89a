"""Chat prompts from a GGUF's own chat template (its `tokenizer.chat_template` metadata).

An instruction-tuned model (SmolLM2-135M-Instruct) was trained on one transcript format —
for SmolLM2, ChatML's `<|im_start|>role … <|im_end|>` — and answers well only in it. The
template is rendered by llama-cpp-python's Jinja2ChatFormatter (a sandboxed Jinja
environment: a catalog's GGUF is not trusted code), with the end-of-turn token as a stop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from cerebra.errors import BackendError
from cerebra.models.base import GenerationRequest, Message

ChatFormat = Literal["transcript", "gguf"]
METADATA_KEY = "tokenizer.chat_template"


@dataclass(frozen=True)
class GGUFChatTemplate:
    """A model's chat template with its special tokens; `render` makes a completion prompt."""

    template: str
    bos_token: str
    eos_token: str

    @classmethod
    def of(cls, llm: Any, model_name: str) -> GGUFChatTemplate:
        """The template of a loaded llama_cpp.Llama (BackendError when the file has none)."""
        template = llm.metadata.get(METADATA_KEY)
        if not template:
            raise BackendError(
                f"model {model_name}: chat_format 'gguf' needs a chat template in the GGUF "
                f"metadata ({METADATA_KEY}) and this file has none; use chat_format "
                "'transcript'", retryable=False)

        def text(token: int) -> str:
            return "" if token < 0 else str(llm._model.token_get_text(token))

        return cls(template, text(llm.token_bos()), text(llm.token_eos()))

    @cached_property
    def _formatter(self) -> Any:  # compiled once per model, not per request
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        return Jinja2ChatFormatter(self.template, eos_token=self.eos_token,
                                   bos_token=self.bos_token, add_generation_prompt=True)

    def render(self, messages: Sequence[Message]) -> tuple[str, tuple[str, ...]]:
        """The prompt for `messages` ending on the assistant's cue, and its stop strings."""
        rendered = self._formatter(
            messages=[{"role": m.role, "content": m.content} for m in messages])
        stop = rendered.stop
        stops = [stop] if isinstance(stop, str) else list(stop or [])
        return rendered.prompt, tuple(s for s in stops if s)

    def completion_prompt(self, request: GenerationRequest) -> tuple[str, tuple[str, ...]]:
        """A raw prompt as it is; a chat rendered with the template (stops: the request's,
        then the template's)."""
        if request.prompt is not None:
            return request.prompt, request.stop
        prompt, stops = self.render(request.messages)
        return prompt, tuple(dict.fromkeys((*request.stop, *stops)))

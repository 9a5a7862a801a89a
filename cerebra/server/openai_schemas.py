"""OpenAI wire format for the gateway: request bodies (validated) and response builders.

Kept apart from the routes so that parsing the wire format, calling Brain and shaping the
reply stay three separate, small steps.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from cerebra.errors import InvalidInput
from cerebra.exchange import Answer
from cerebra.models.base import Message, ToolCall
from cerebra.server.request_schemas import WHOLE


class ContentPart(BaseModel):
    type: str
    text: str | None = None


class FunctionCallIn(BaseModel):
    name: str
    arguments: str = "{}"


class ToolCallIn(BaseModel):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCallIn


class ChatMessageIn(BaseModel):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: str | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text or "" for p in self.content if p.type == "text")

    def to_message(self) -> Message:
        role = "system" if self.role == "developer" else self.role
        calls = tuple(
            ToolCall(c.id, c.function.name, c.function.arguments) for c in self.tool_calls or ()
        )
        return Message(role, self.text(), self.name, calls, self.tool_call_id)


class StreamOptions(BaseModel):
    include_usage: bool = Field(default=False, strict=True)


# numbers and booleans as JSON Schema reads them: 3.0 is an integer, "3" and true are not

# logit_bias: token ids (JSON object keys, so strings of digits) to biases in [-100, 100]
_TOKEN_ID = r"^[0-9]{1,10}$"
TokenId = Annotated[str, Field(pattern=_TOKEN_ID)]
Bias = Annotated[float, Field(ge=-100, le=100, strict=True)]


class _Sampling(BaseModel):
    model: str = Field(min_length=1)
    max_tokens: Annotated[int, Field(ge=1, strict=True), WHOLE] | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=2.0, strict=True)
    top_p: float | None = Field(default=None, ge=0.0, le=1.0, strict=True)
    n: Annotated[int, Field(ge=1, le=1, strict=True), WHOLE] = 1
    stream: bool = Field(default=False, strict=True)
    stream_options: StreamOptions | None = None
    stop: str | Annotated[list[str], Field(max_length=4)] | None = None  # OpenAI: at most 4
    user: str | None = None
    metadata: dict[str, Any] | None = None
    logit_bias: Annotated[dict[TokenId, Bias], Field(json_schema_extra={
        "propertyNames": {"pattern": _TOKEN_ID}})] | None = None
    seed: Annotated[int, Field(strict=True), WHOLE] | None = None  # not true, not "3"

    def stops(self) -> tuple[str, ...]:
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop or ())

    def backend_extra(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.logit_bias:
            extra["logit_bias"] = {int(k): v for k, v in self.logit_bias.items()}
        if self.seed is not None:
            extra["seed"] = self.seed
        return extra


# text the prompt path takes: not blank (Brain refuses a blank prompt)
NonBlank = Annotated[str, Field(min_length=1, pattern=r"\S")]
# what `recall_text` asks of the messages: a user message with some non-blank text
_A_USER_TEXT: dict[str, Any] = {
    "type": "object", "required": ["role", "content"],
    "properties": {"role": {"const": "user"}, "content": {"anyOf": [
        {"type": "string", "pattern": r"\S"},
        {"type": "array", "contains": {
            "type": "object", "required": ["type", "text"],
            "properties": {"type": {"const": "text"},
                           "text": {"type": "string", "pattern": r"\S"}}}},
    ]}},
}


class ChatCompletionIn(_Sampling):
    messages: list[ChatMessageIn] = Field(
        min_length=1, json_schema_extra={"contains": _A_USER_TEXT},
        description="at least one user message with non-blank text")
    max_completion_tokens: Annotated[int, Field(ge=1, strict=True), WHOLE] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None

    def recall_text(self) -> str:
        """The latest user text: what memory recall and the ledger use."""
        for message in reversed(self.messages):
            if message.role == "user" and message.text().strip():
                return message.text()
        raise InvalidInput("messages need at least one non-empty user message", field="messages")

    def backend_extra(self) -> dict[str, Any]:
        extra = super().backend_extra()
        if self.tools:
            extra["tools"] = self.tools
        if self.tool_choice is not None:
            extra["tool_choice"] = self.tool_choice
        return extra


class CompletionIn(_Sampling):
    prompt: NonBlank | Annotated[list[NonBlank], Field(min_length=1, max_length=1)]
    echo: bool = Field(default=False, strict=True)

    def prompt_text(self) -> str:
        if isinstance(self.prompt, list):
            if len(self.prompt) != 1:
                raise InvalidInput("exactly one prompt is supported", field="prompt")
            return self.prompt[0]
        return self.prompt


class EmbeddingIn(BaseModel):
    model: str = Field(min_length=1)
    input: NonBlank | Annotated[list[NonBlank], Field(min_length=1)]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: Annotated[int, Field(ge=1, strict=True), WHOLE] | None = None
    user: str | None = None

    def texts(self) -> list[str]:
        texts = [self.input] if isinstance(self.input, str) else list(self.input)
        for i, text in enumerate(texts):
            if not text.strip():
                raise InvalidInput(f"input[{i}] is empty", field="input")
        return texts


def memory_wanted(metadata: dict[str, Any] | None, header: str | None) -> bool:
    flag = (metadata or {}).get("memory", header)
    return str(flag).lower() not in {"off", "false", "0", "no"}


OPENAI_FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "content_filter",
                                   "function_call"})


def openai_finish(reason: str | None) -> str | None:
    """A finish reason OpenAI clients know: Cerebra's own ("cancelled", "timeout", "error":
    the answer was cut short) become "length"."""
    if reason is None or reason in OPENAI_FINISH_REASONS:
        return reason
    return "length"


def chat_completion(answer: Answer, completion_id: str, created: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": answer.answer}
    if answer.tool_calls:
        message["tool_calls"] = [c.to_openai() for c in answer.tool_calls]
        message["content"] = answer.answer or None
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": answer.model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": openai_finish(answer.finish_reason)}
        ],
        "usage": answer.usage.to_dict(),
        "cerebra": {
            "trace_id": answer.trace_id,
            "memories": [h.memory.uid for h in answer.memories],
        },
    }


def text_completion(answer: Answer, completion_id: str, created: int, echo: str) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "text_completion",
        "created": created,
        "model": answer.model,
        "choices": [
            {
                "index": 0,
                "text": echo + answer.answer,
                "logprobs": None,
                "finish_reason": openai_finish(answer.finish_reason),
            }
        ],
        "usage": answer.usage.to_dict(),
        # the trace to send feedback on (a rating, a correction): what the loop learns from
        "cerebra": {"trace_id": answer.trace_id,
                    "memories": [h.memory.uid for h in answer.memories]},
    }


def sse(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n"


def chat_chunk(
    completion_id: str,
    created: int,
    model: str,
    delta: dict[str, Any],
    finish: str | None = None,
) -> str:
    return sse(
        {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": openai_finish(finish)}],
        }
    )

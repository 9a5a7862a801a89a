"""The OpenAI wire format: request bodies for /chat/completions and /completions, and the
parsing of replies and of streamed chunks (text deltas, tool-call fragments, usage).
"""

from __future__ import annotations

import json
from typing import Any

from cerebra.models.base import GenerationRequest, Message, StreamChunk, ToolCall, Usage
from cerebra.models.http_errors import UpstreamError, malformed, reported_error

# request.extra keys forwarded verbatim to the upstream (others, such as tenant_id, are ours).
PASS_THROUGH = (
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "logit_bias",
    "presence_penalty",
    "frequency_penalty",
    "logprobs",
    "top_logprobs",
    "user",
    "reasoning_effort",
)


def message_to_openai(message: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.name:
        out["name"] = message.name
    if message.tool_calls:
        out["tool_calls"] = [call.to_openai() for call in message.tool_calls]
        if not message.content:
            out["content"] = None
    if message.tool_call_id:
        out["tool_call_id"] = message.tool_call_id
    return out


def build_body(request: GenerationRequest, model: str, *, chat: bool, stream: bool,
               max_tokens_field: str = "max_tokens", stream_usage: bool = True
               ) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model}
    if chat:
        messages = request.messages
        if request.prompt is not None:
            messages = (Message("user", request.prompt),)
        body["messages"] = [message_to_openai(m) for m in messages]
    else:
        body["prompt"] = request.prompt or ""
    body[max_tokens_field if chat else "max_tokens"] = request.max_tokens
    body["temperature"] = request.temperature
    body["top_p"] = request.top_p
    if request.stop:
        body["stop"] = list(request.stop)
    if request.seed is not None:
        body["seed"] = request.seed
    for key in PASS_THROUGH:
        if key in request.extra and request.extra[key] is not None:
            body[key] = request.extra[key]
    extra_body = request.extra.get("extra_body")
    if isinstance(extra_body, dict):
        body.update(extra_body)
    if stream:
        body["stream"] = True
        if stream_usage:
            body["stream_options"] = {"include_usage": True}
    return body


def _choice(data: dict[str, Any], backend: str) -> dict[str, Any] | None:
    choices = data.get("choices")
    if not isinstance(choices, list):
        raise malformed(backend, "no 'choices' list", json.dumps(data)[:200])
    if not choices:
        return None
    first = choices[0]
    if not isinstance(first, dict):
        raise malformed(backend, "a choice is not an object", json.dumps(data)[:200])
    return first


def _tool_call(raw: Any, backend: str) -> ToolCall:
    if not isinstance(raw, dict) or not isinstance(raw.get("function"), dict):
        raise malformed(backend, "tool call without a function", json.dumps(raw)[:200])
    fn = raw["function"]
    args = fn.get("arguments")
    if not isinstance(args, str):  # some servers send an object instead of JSON text
        args = json.dumps(args if args is not None else {})
    return ToolCall(str(raw.get("id") or ""), str(fn.get("name") or ""), args)


def parse_reply(data: dict[str, Any], backend: str, *, chat: bool
                ) -> tuple[str, str, tuple[ToolCall, ...], Any]:
    """(text, finish_reason, tool_calls, raw usage) from a non-streamed reply."""
    if "error" in data and "choices" not in data:
        raise reported_error(backend, json.dumps(data))
    choice = _choice(data, backend)
    if choice is None:
        raise malformed(backend, "empty 'choices'", json.dumps(data)[:200])
    calls: tuple[ToolCall, ...] = ()
    if chat:
        message = choice.get("message")
        if not isinstance(message, dict):
            raise malformed(backend, "choice without a message", json.dumps(choice)[:200])
        text = message.get("content") or ""
        calls = tuple(_tool_call(c, backend) for c in message.get("tool_calls") or ())
    else:
        text = choice.get("text") or ""
    if not isinstance(text, str):
        raise malformed(backend, "content is not text", json.dumps(choice)[:200])
    finish = choice.get("finish_reason") or ("tool_calls" if calls else "stop")
    return text, str(finish), calls, data.get("usage")


class StreamState:
    """Folds OpenAI stream chunks into StreamChunks, remembering finish, usage, tool calls."""

    def __init__(self, backend: str, *, chat: bool) -> None:
        self.backend = backend
        self.chat = chat
        self.done = False  # saw "data: [DONE]"
        self.finish: str | None = None
        self.usage: Any = None
        self.pieces: list[str] = []
        self._calls: dict[int, dict[str, str]] = {}

    def feed(self, data: str) -> StreamChunk | None:
        """One event's data; a chunk with new text, or None."""
        if self.done:
            return None
        if data.strip() == "[DONE]":
            self.done = True
            return None
        try:
            payload = json.loads(data)
        except json.JSONDecodeError as exc:
            raise malformed(self.backend, f"invalid JSON in stream ({exc.msg})", data) from exc
        if not isinstance(payload, dict):
            raise malformed(self.backend, "stream chunk is not an object", data)
        if "error" in payload:
            raise reported_error(self.backend, data, "stream")
        if payload.get("usage"):
            self.usage = payload["usage"]
        choice = _choice(payload, self.backend)
        if choice is None:
            return None
        if choice.get("finish_reason"):
            self.finish = str(choice["finish_reason"])
        if self.chat:
            delta = choice.get("delta") or {}
            for part in delta.get("tool_calls") or ():
                self._add_call_part(part)
            text = delta.get("content") or ""
        else:
            text = choice.get("text") or ""
        if not text:
            return None
        self.pieces.append(text)
        return StreamChunk(text=text)

    def _add_call_part(self, part: Any) -> None:
        if not isinstance(part, dict):
            raise malformed(self.backend, "tool call delta is not an object", str(part))
        index = part.get("index", len(self._calls))
        call = self._calls.setdefault(int(index), {"id": "", "name": "", "arguments": ""})
        if part.get("id"):
            call["id"] = str(part["id"])
        fn = part.get("function") or {}
        if fn.get("name"):
            call["name"] += str(fn["name"])
        if fn.get("arguments"):
            call["arguments"] += str(fn["arguments"])

    def tool_calls(self) -> tuple[ToolCall, ...]:
        return tuple(ToolCall(c["id"], c["name"], c["arguments"] or "{}")
                     for _, c in sorted(self._calls.items()))

    def check_complete(self) -> None:
        """A stream that ended without [DONE] or a finish_reason was cut off."""
        if not self.done and self.finish is None:
            raise UpstreamError(
                f"{self.backend}: stream broken mid-way: it ended after "
                f"{len(self.pieces)} chunks without a finish_reason or [DONE]",
                backend=self.backend, retryable=True)

    def final(self, usage: Usage) -> StreamChunk:
        calls = self.tool_calls()
        finish = self.finish or ("tool_calls" if calls else "stop")
        return StreamChunk(text="", finish_reason=finish, usage=usage, tool_calls=calls)

"""The Anthropic Messages wire format: request bodies (system prompt apart, alternating
turns, tool_use / tool_result blocks, OpenAI-style tools translated), replies, and the
event stream (message_start, content_block_*, message_delta, message_stop, error).
"""

from __future__ import annotations

import json
from typing import Any

from cerebra.models.base import GenerationRequest, Message, StreamChunk, ToolCall
from cerebra.models.http_errors import UpstreamError, malformed, reported_error

STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def _blocks(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        return [{"type": "tool_result", "tool_use_id": message.tool_call_id or "",
                 "content": message.content}]
    blocks: list[dict[str, Any]] = []
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    for call in message.tool_calls:
        try:
            arguments = json.loads(call.arguments or "{}")
        except ValueError:
            arguments = {"_raw": call.arguments}
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": arguments})
    return blocks


def convert_messages(request: GenerationRequest) -> tuple[str, list[dict[str, Any]]]:
    """(system text, alternating user/assistant turns with consecutive same roles merged)."""
    if request.prompt is not None:
        return "", [{"role": "user", "content": request.prompt}]
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for message in request.messages:
        if message.role == "system":
            system.append(message.content)
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:  # plain single-text turns in the short form
        content = turn["content"]
        if len(content) == 1 and content[0]["type"] == "text":
            turn["content"] = content[0]["text"]
    return "\n\n".join(system), turns


def convert_tools(tools: Any) -> list[dict[str, Any]]:
    """OpenAI function tools → Anthropic tools; Anthropic-shaped tools pass unchanged."""
    out: list[dict[str, Any]] = []
    for tool in tools or ():
        if isinstance(tool, dict) and tool.get("type") == "function" and "function" in tool:
            fn = tool["function"]
            converted = {"name": fn.get("name", ""),
                         "input_schema": fn.get("parameters") or {"type": "object"}}
            if fn.get("description"):
                converted["description"] = fn["description"]
            out.append(converted)
        else:
            out.append(tool)
    return out


def convert_tool_choice(choice: Any) -> dict[str, Any] | None:
    if choice is None or (isinstance(choice, dict) and choice.get("type") in (
            "auto", "any", "tool", "none")):
        return choice
    if choice == "auto":
        return {"type": "auto"}
    if choice == "required":
        return {"type": "any"}
    if choice == "none":
        return {"type": "none"}
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        return {"type": "tool", "name": choice["function"].get("name", "")}
    return None


def build_body(request: GenerationRequest, model: str, *, stream: bool, send_top_p: bool
               ) -> dict[str, Any]:
    system, messages = convert_messages(request)
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": request.max_tokens,
        "messages": messages,
        "temperature": min(max(request.temperature, 0.0), 1.0),  # Anthropic's range is 0..1
    }
    if system:
        body["system"] = system
    if send_top_p:
        body["top_p"] = request.top_p
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    if request.extra.get("tools"):
        body["tools"] = convert_tools(request.extra["tools"])
        choice = convert_tool_choice(request.extra.get("tool_choice"))
        if choice is not None:
            body["tool_choice"] = choice
    extra_body = request.extra.get("extra_body")
    if isinstance(extra_body, dict):
        body.update(extra_body)
    if stream:
        body["stream"] = True
    return body


def input_tokens(usage: dict[str, Any]) -> int:
    """Every input token, cached or not (the cache fields are counted apart upstream)."""
    return sum(int(usage.get(k) or 0) for k in (
        "input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"))


def cache_reads(usage: dict[str, Any]) -> int:
    """The input tokens read from the prompt cache (priced apart: `Usage.cached_prompt_tokens`)."""
    return int(usage.get("cache_read_input_tokens") or 0)


def parse_reply(data: dict[str, Any], backend: str
                ) -> tuple[str, str, tuple[ToolCall, ...], dict[str, Any]]:
    """(text, finish_reason, tool_calls, usage as prompt/completion counts)."""
    if data.get("type") == "error":
        raise reported_error(backend, json.dumps(data))
    content = data.get("content")
    if not isinstance(content, list):
        raise malformed(backend, "no 'content' list", json.dumps(data)[:200])
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in content:
        if not isinstance(block, dict):
            raise malformed(backend, "content block is not an object", str(block)[:200])
        if block.get("type") == "text":
            texts.append(str(block.get("text", "")))
        elif block.get("type") == "tool_use":
            calls.append(ToolCall(str(block.get("id", "")), str(block.get("name", "")),
                                  json.dumps(block.get("input") or {})))
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    counts = {"prompt_tokens": input_tokens(usage), "completion_tokens": usage.get(
        "output_tokens"), "cached_prompt_tokens": cache_reads(usage)} if usage else {}
    finish = STOP_REASONS.get(str(data.get("stop_reason")), "stop")
    return "".join(texts), finish, tuple(calls), counts


class StreamState:
    """Folds Anthropic stream events into StreamChunks."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.stopped = False  # saw message_stop
        self.finish: str | None = None
        self.prompt_tokens: int | None = None
        self.cached_tokens = 0
        self.output_tokens: int | None = None
        self.pieces: list[str] = []
        self._calls: dict[int, dict[str, str]] = {}

    def feed(self, event: str, data: str) -> StreamChunk | None:
        if event == "ping" or self.stopped:
            return None
        try:
            payload = json.loads(data)
        except json.JSONDecodeError as exc:
            raise malformed(self.backend, f"invalid JSON in {event} event ({exc.msg})",
                            data) from exc
        if not isinstance(payload, dict):
            raise malformed(self.backend, f"{event} event is not an object", data)
        kind = payload.get("type", event)
        if kind == "error":
            raise reported_error(self.backend, data, "stream")
        if kind == "message_start":
            usage = (payload.get("message") or {}).get("usage") or {}
            self.prompt_tokens = input_tokens(usage)
            self.cached_tokens = cache_reads(usage)
            self.output_tokens = usage.get("output_tokens")
        elif kind == "content_block_start":
            block = payload.get("content_block") or {}
            if block.get("type") == "tool_use":
                self._calls[int(payload.get("index", 0))] = {
                    "id": str(block.get("id", "")), "name": str(block.get("name", "")),
                    "arguments": ""}
            elif block.get("type") == "text" and block.get("text"):
                return self._text(str(block["text"]))
        elif kind == "content_block_delta":
            delta = payload.get("delta") or {}
            if delta.get("type") == "text_delta":
                return self._text(str(delta.get("text", "")))
            if delta.get("type") == "input_json_delta":
                call = self._calls.get(int(payload.get("index", 0)))
                if call is not None:
                    call["arguments"] += str(delta.get("partial_json", ""))
        elif kind == "message_delta":
            reason = (payload.get("delta") or {}).get("stop_reason")
            if reason:
                self.finish = STOP_REASONS.get(str(reason), "stop")
            usage = payload.get("usage") or {}
            if usage.get("output_tokens") is not None:
                self.output_tokens = int(usage["output_tokens"])
            if usage.get("input_tokens") is not None:
                self.prompt_tokens = input_tokens(usage)
                self.cached_tokens = cache_reads(usage)
        elif kind == "message_stop":
            self.stopped = True
        return None

    def _text(self, text: str) -> StreamChunk | None:
        if not text:
            return None
        self.pieces.append(text)
        return StreamChunk(text=text)

    def check_complete(self) -> None:
        if not self.stopped:
            raise UpstreamError(
                f"{self.backend}: stream broken mid-way: it ended after {len(self.pieces)} "
                "chunks without message_stop", backend=self.backend, retryable=True)

    def tool_calls(self) -> tuple[ToolCall, ...]:
        return tuple(ToolCall(c["id"], c["name"], c["arguments"] or "{}")
                     for _, c in sorted(self._calls.items()))

    def usage_counts(self) -> dict[str, Any]:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.output_tokens,
                "cached_prompt_tokens": self.cached_tokens}

"""A fake Anthropic Messages API: POST /v1/messages (JSON and the event stream: message_start,
content_block_start/delta/stop, ping, message_delta, message_stop), tool_use blocks, the
real error shapes, header checks (x-api-key, anthropic-version), injectable faults.

Replies: "<model> says: <last user text>" cut to max_tokens words; with tools offered, a
text block then a tool_use of the first tool with {"query": <last user text>}.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from tests.fakes.faults import FaultPlan, before_reply, stream_with_fault


def error_body(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


def _bad(message: str, status: int = 400, kind: str = "invalid_request_error") -> Response:
    return JSONResponse(error_body(kind, message), status)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = []
    for block in content or ():
        if block.get("type") == "text":
            parts.append(block.get("text", ""))
        elif block.get("type") == "tool_result":
            parts.append(f"[tool_result {block.get('tool_use_id')}: {block.get('content')}]")
    return " ".join(parts)


def _event(kind: str, payload: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(payload)}\n\n".encode()


def _check(body: Any) -> Response | None:
    if not isinstance(body, dict):
        return _bad("body must be an object")
    if not isinstance(body.get("model"), str):
        return _bad("model: Field required")
    if not isinstance(body.get("max_tokens"), int):
        return _bad("max_tokens: Field required")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return _bad("messages: at least one message is required")
    for i, message in enumerate(messages):
        if message.get("role") not in ("user", "assistant"):
            return _bad(f"messages.{i}.role: Input should be 'user' or 'assistant'")
    if messages[0]["role"] != "user":
        return _bad("messages: first message must use the \"user\" role")
    temperature = body.get("temperature", 1.0)
    if not 0.0 <= temperature <= 1.0:
        return _bad("temperature: range: 0..1")
    return None


def make_anthropic_app(plan: FaultPlan, *, api_key: str = "ak-test") -> FastAPI:
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/messages")
    async def messages(request: Request) -> Response:
        # x-api-key is the documented header; newer SDKs send "Authorization: Bearer <key>"
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if request.headers.get("x-api-key") != api_key and bearer != api_key:
            return _bad("invalid x-api-key", 401, "authentication_error")
        if not request.headers.get("anthropic-version"):
            return _bad("anthropic-version: header is required")
        try:
            body = await request.json()
        except ValueError:
            return _bad("There was an issue with the JSON body")
        plan.record(request, body)
        problem = _check(body)
        if problem is not None:
            return problem
        stream = bool(body.get("stream"))
        fault = plan.take(body["model"])
        early = await before_reply(fault, error_body, stream)
        if early is not None:
            return early
        turns = body["messages"]
        system = body.get("system") or ""
        input_tokens = len(str(system).split()) + sum(len(_text(m["content"]).split())
                                                      for m in turns)
        user = _text(turns[-1]["content"])
        blocks: list[dict[str, Any]] = []
        tools = body.get("tools") or []
        tool_choice = (body.get("tool_choice") or {}).get("type")
        if tools and tool_choice != "none" and "tool_result" not in user:
            blocks.append({"type": "text", "text": "Let me check."})
            blocks.append({"type": "tool_use", "id": "toolu_fake_1", "name": tools[0]["name"],
                           "input": {"query": user}})
            stop = "tool_use"
        else:
            words = f"{body['model']} says: {user}".split()
            stop = "end_turn"
            if len(words) > body["max_tokens"]:
                words, stop = words[: body["max_tokens"]], "max_tokens"
            blocks.append({"type": "text", "text": " ".join(words)})
        output_tokens = sum(len(b.get("text", "").split()) for b in blocks) + 5 * sum(
            b["type"] == "tool_use" for b in blocks)
        message = {"id": "msg_fake", "type": "message", "role": "assistant",
                   "model": body["model"], "content": blocks, "stop_reason": stop,
                   "stop_sequence": None,
                   "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens,
                             "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}
        if not stream:
            return JSONResponse(message)
        return StreamingResponse(stream_with_fault(_events(message), fault),
                                 media_type="text/event-stream")

    return app


def _events(message: dict[str, Any]) -> list[bytes]:
    start = {**message, "content": [], "stop_reason": None,
             "usage": {**message["usage"], "output_tokens": 1}}
    events = [_event("message_start", {"type": "message_start", "message": start})]
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            events.append(_event("content_block_start", {
                "type": "content_block_start", "index": index,
                "content_block": {"type": "text", "text": ""}}))
            if index == 0:
                events.append(_event("ping", {"type": "ping"}))
            words = block["text"].split(" ")
            for i, word in enumerate(words):
                events.append(_event("content_block_delta", {
                    "type": "content_block_delta", "index": index,
                    "delta": {"type": "text_delta", "text": word if i == 0 else " " + word}}))
        else:
            events.append(_event("content_block_start", {
                "type": "content_block_start", "index": index,
                "content_block": {"type": "tool_use", "id": block["id"], "name": block["name"],
                                  "input": {}}}))
            raw = json.dumps(block["input"])
            for cut in range(0, len(raw), 9):
                events.append(_event("content_block_delta", {
                    "type": "content_block_delta", "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": raw[cut:cut + 9]}}))
        events.append(_event("content_block_stop", {"type": "content_block_stop",
                                                    "index": index}))
    events.append(_event("message_delta", {
        "type": "message_delta",
        "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
        "usage": {"output_tokens": message["usage"]["output_tokens"]}}))
    events.append(_event("message_stop", {"type": "message_stop"}))
    return events

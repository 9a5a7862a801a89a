"""A fake OpenAI-compatible server: /v1/chat/completions (JSON and SSE chunks, tool calls),
/v1/completions, /v1/embeddings (float and base64), /v1/models, with injectable faults.

Replies are deterministic: "<model> says: <last user text>", cut to max_tokens words (or,
with `answer=`, answer(model, last user text), e.g. a judge's scripted verdicts);
with tools offered, the first tool is called with {"query": <last user text>}.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from tests.fakes.faults import FaultPlan, before_reply, stream_with_fault

MAX_CONTEXT_WORDS = 1000
EMBED_DIM = 8


def error_body(kind: str, message: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _words(text: str) -> int:
    return len(text.split())


def _text_of(content: Any) -> str:
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content or ""


def _reply(model: str, prompt_text: str, max_tokens: int,
           answer: Callable[[str, str], str] | None = None) -> tuple[str, str]:
    words = (answer(model, prompt_text) if answer else f"{model} says: {prompt_text}").split()
    if len(words) > max_tokens:
        return " ".join(words[:max_tokens]), "length"
    return " ".join(words), "stop"


def _sse(payload: Any) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


def _embedding(text: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
    return np.random.default_rng(seed).standard_normal(EMBED_DIM).astype(np.float32) * 3


def make_openai_app(plan: FaultPlan, *, api_key: str | None = "sk-test",
                    answer: Callable[[str, str], str] | None = None) -> FastAPI:
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": "fake-gpt", "object": "model",
                                            "created": 0, "owned_by": "fake"}]}

    async def parse(request: Request) -> tuple[dict[str, Any] | None, Response | None]:
        if api_key and request.headers.get("authorization") != f"Bearer {api_key}":
            return None, JSONResponse(error_body("invalid_request_error", "Incorrect API key",
                                                 "invalid_api_key"), 401)
        try:
            body = await request.json()
        except ValueError:
            return None, JSONResponse(error_body("invalid_request_error", "bad JSON"), 400)
        plan.record(request, body)
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            return None, JSONResponse(error_body("invalid_request_error",
                                                 "you must provide a model parameter"), 400)
        return body, None

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body, problem = await parse(request)
        if problem is not None or body is None:
            return problem or Response(status_code=500)
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return JSONResponse(error_body("invalid_request_error",
                                           "'messages' must be a non-empty array"), 400)
        stream = bool(body.get("stream"))
        fault = plan.take(body["model"])
        early = await before_reply(fault, error_body, stream)
        if early is not None:
            return early
        prompt_tokens = sum(_words(_text_of(m.get("content"))) for m in messages)
        if prompt_tokens > MAX_CONTEXT_WORDS:
            return JSONResponse(error_body(
                "invalid_request_error", f"This model's maximum context length is "
                f"{MAX_CONTEXT_WORDS} tokens. However, you requested {prompt_tokens} tokens.",
                "context_length_exceeded"), 400)
        last = messages[-1]
        tools = body.get("tools") or []
        call: dict[str, Any] | None = None
        if last.get("role") == "tool":
            text, finish = f"tool said: {_text_of(last.get('content'))}", "stop"
        elif tools and body.get("tool_choice") != "none":
            user = _text_of(last.get("content"))
            call = {"id": "call_fake_1", "type": "function",
                    "function": {"name": tools[0]["function"]["name"],
                                 "arguments": json.dumps({"query": user})}}
            text, finish = "", "tool_calls"
        else:
            text, finish = _reply(body["model"], _text_of(last.get("content")),
                                  int(body.get("max_tokens") or body.get(
                                      "max_completion_tokens") or 16), answer)
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": _words(text),
                 "total_tokens": prompt_tokens + _words(text)}
        base = {"id": "chatcmpl-fake", "created": int(time.time()), "model": body["model"],
                "system_fingerprint": "fp_fake"}
        if not stream:
            message: dict[str, Any] = {"role": "assistant", "content": text or None,
                                       "refusal": None}
            if call is not None:
                message["tool_calls"] = [call]
            return JSONResponse({**base, "object": "chat.completion", "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
                "usage": usage})
        return StreamingResponse(stream_with_fault(
            _chat_events(base, text, finish, call, usage, body), fault),
            media_type="text/event-stream")

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        body, problem = await parse(request)
        if problem is not None or body is None:
            return problem or Response(status_code=500)
        stream = bool(body.get("stream"))
        fault = plan.take(body["model"])
        early = await before_reply(fault, error_body, stream)
        if early is not None:
            return early
        prompt = str(body.get("prompt", ""))
        text, finish = _reply(body["model"], prompt, int(body.get("max_tokens") or 16))
        usage = {"prompt_tokens": _words(prompt), "completion_tokens": _words(text),
                 "total_tokens": _words(prompt) + _words(text)}
        base = {"id": "cmpl-fake", "object": "text_completion", "created": int(time.time()),
                "model": body["model"]}
        if not stream:
            return JSONResponse({**base, "choices": [{"index": 0, "text": text, "logprobs": None,
                                                      "finish_reason": finish}], "usage": usage})
        events = [_sse({**base, "choices": [{"index": 0, "text": piece, "logprobs": None,
                                              "finish_reason": None}]})
                  for piece in _pieces(text)]
        events.append(_sse({**base, "choices": [{"index": 0, "text": "", "logprobs": None,
                                                  "finish_reason": finish}]}))
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append(_sse({**base, "choices": [], "usage": usage}))
        events.append(b"data: [DONE]\n\n")
        return StreamingResponse(stream_with_fault(events, fault),
                                 media_type="text/event-stream")

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> Response:
        body, problem = await parse(request)
        if problem is not None or body is None:
            return problem or Response(status_code=500)
        fault = plan.take(body["model"])
        early = await before_reply(fault, error_body, False)
        if early is not None:
            return early
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else inputs
        if not isinstance(texts, list) or not texts:
            return JSONResponse(error_body("invalid_request_error", "'input' is invalid"), 400)
        b64 = body.get("encoding_format") == "base64"
        data = []
        for index, text in enumerate(texts):
            vector = _embedding(str(text))
            value: Any = (base64.b64encode(vector.astype("<f4").tobytes()).decode()
                          if b64 else vector.tolist())
            data.append({"object": "embedding", "index": index, "embedding": value})
        data.reverse()  # the order of `data` is not guaranteed: clients must use `index`
        tokens = sum(_words(str(t)) for t in texts)
        return JSONResponse({"object": "list", "data": data, "model": body["model"],
                             "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    return app


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [w if i == 0 else " " + w for i, w in enumerate(words)] if text else []


def _chat_events(base: dict[str, Any], text: str, finish: str, call: dict[str, Any] | None,
                 usage: dict[str, int], body: dict[str, Any]) -> list[bytes]:
    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        return _sse({**base, "object": "chat.completion.chunk", "choices": [
            {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]})

    events = [chunk({"role": "assistant", "content": "", "refusal": None})]
    events += [chunk({"content": piece}) for piece in _pieces(text)]
    if call is not None:
        fn = call["function"]
        events.append(chunk({"tool_calls": [{"index": 0, "id": call["id"], "type": "function",
                                             "function": {"name": fn["name"], "arguments": ""}}]}))
        args = fn["arguments"]
        for start in range(0, len(args), 7):
            events.append(chunk({"tool_calls": [
                {"index": 0, "function": {"arguments": args[start:start + 7]}}]}))
    events.append(chunk({}, finish))
    if (body.get("stream_options") or {}).get("include_usage"):
        events.append(_sse({**base, "object": "chat.completion.chunk", "choices": [],
                            "usage": usage}))
    events.append(b"data: [DONE]\n\n")
    return events

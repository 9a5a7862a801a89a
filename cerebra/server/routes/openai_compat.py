"""OpenAI-compatible API: /v1/chat/completions (plain and server-sent events) and /v1/models.

Requests are parsed here and handed to Brain; memory is on unless the request says
`metadata: {"memory": "off"}` or sends the header `X-Cerebra-Memory: off`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Depends, Header
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, field_validator

from cerebra.brain import Answer, Brain
from cerebra.errors import InvalidInput
from cerebra.models.base import Message
from cerebra.server.deps import get_brain

router = APIRouter(prefix="/v1", tags=["openai"])


class ContentPart(BaseModel):
    type: str
    text: str | None = None


class ChatMessageIn(BaseModel):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[ContentPart] | None = None
    name: str | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text or "" for p in self.content if p.type == "text")


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatCompletionIn(BaseModel):
    model: str = Field(min_length=1)
    messages: list[ChatMessageIn] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, ge=0.0, le=1.0)
    n: int = Field(default=1, ge=1, le=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    stop: str | list[str] | None = None
    user: str | None = None
    metadata: dict[str, Any] | None = None

    @field_validator("stop")
    @classmethod
    def _stop_list(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list) and len(value) > 4:
            raise ValueError("at most 4 stop sequences")
        return value


def _memory_wanted(body: ChatCompletionIn, header: str | None) -> bool:
    flag = (body.metadata or {}).get("memory", header)
    return str(flag).lower() not in {"off", "false", "0", "no"}


def _split_messages(body: ChatCompletionIn) -> tuple[str, list[Message]]:
    last = body.messages[-1]
    if last.role != "user":
        raise InvalidInput("the last message must have role 'user'", field="messages")
    prompt = last.text()
    if not prompt.strip():
        raise InvalidInput("the last user message is empty", field="messages")
    history = [
        Message("system" if m.role in ("system", "developer") else m.role, m.text())  # type: ignore[arg-type]
        for m in body.messages[:-1]
        if m.role != "tool"
    ]
    return prompt, history


def _completion(answer: Answer, completion_id: str, created: int) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": answer.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.answer},
                "finish_reason": answer.finish_reason,
            }
        ],
        "usage": answer.usage.to_dict(),
        "cerebra": {
            "trace_id": answer.trace_id,
            "memories": [h.memory.uid for h in answer.memories],
        },
    }


def _chunk(
    completion_id: str, created: int, model: str, delta: dict[str, Any], finish: str | None = None
) -> str:
    payload = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(payload)}\n\n"


@router.post("/chat/completions")
async def chat_completions(
    body: ChatCompletionIn,
    brain: Brain = Depends(get_brain),
    x_cerebra_memory: str | None = Header(default=None),
) -> Any:
    prompt, history = _split_messages(body)
    meta = body.metadata or {}
    stop = [body.stop] if isinstance(body.stop, str) else list(body.stop or [])
    args: dict[str, Any] = {
        "history": history,
        "user_id": str(meta.get("user_id", body.user or "")),
        "agent_id": str(meta.get("agent_id", "")),
        "session_id": str(meta.get("session_id", "")),
        "model": body.model,
        "max_tokens": body.max_completion_tokens or body.max_tokens,
        "temperature": body.temperature,
        "memory": _memory_wanted(body, x_cerebra_memory),
        "stop": stop,
        "endpoint": "openai",
    }
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    if not body.stream:
        return _completion(await brain.aask(prompt, **args), completion_id, created)

    events = brain.astream(prompt, **args)
    first = await events.__anext__()  # errors before the first token become HTTP errors
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    model = body.model

    async def sse() -> AsyncIterator[str]:
        yield _chunk(completion_id, created, model, {"role": "assistant", "content": ""})
        item: str | Answer = first
        while not isinstance(item, Answer):
            yield _chunk(completion_id, created, model, {"content": item})
            item = await events.__anext__()
        yield _chunk(completion_id, created, model, {}, item.finish_reason)
        if include_usage:
            usage = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [],
                "usage": item.usage.to_dict(),
            }
            yield f"data: {json.dumps(usage)}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(sse(), media_type="text/event-stream")


@router.get("/models")
def list_models(brain: Brain = Depends(get_brain)) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {
                "id": name,
                "object": "model",
                "created": 0,
                "owned_by": "cerebra",
                "context_length": backend.capabilities.max_context,
            }
            for name, backend in brain.models.items()
        ],
    }

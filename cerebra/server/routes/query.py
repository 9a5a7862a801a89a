"""Cerebra's own query API: POST /api/llm/query runs the whole prompt path."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from cerebra.brain import Answer, Brain
from cerebra.server.deps import get_brain

router = APIRouter(prefix="/api/llm", tags=["llm"])


class QueryIn(BaseModel):
    prompt: str = Field(min_length=1, description="the user's prompt")
    user_id: str = ""
    agent_id: str = ""
    session_id: str = ""
    model: str | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    memory: bool = True
    stream: bool = False


@router.post("/query")
async def query(body: QueryIn, brain: Brain = Depends(get_brain)) -> Any:
    args: dict[str, Any] = {
        "user_id": body.user_id,
        "agent_id": body.agent_id,
        "session_id": body.session_id,
        "model": body.model,
        "max_tokens": body.max_tokens,
        "temperature": body.temperature,
        "memory": body.memory,
        "endpoint": "api",
    }
    if not body.stream:
        answer = await brain.aask(body.prompt, **args)
        return answer.to_dict()
    events = brain.astream(body.prompt, **args)
    first = await events.__anext__()  # errors before the first token become HTTP errors

    async def sse() -> AsyncIterator[str]:
        item: str | Answer = first
        while True:
            if isinstance(item, Answer):
                yield f"event: answer\ndata: {json.dumps(item.to_dict())}\n\n"
                return
            yield f"data: {json.dumps({'text': item})}\n\n"
            try:
                item = await events.__anext__()
            except StopAsyncIteration:
                return

    return StreamingResponse(sse(), media_type="text/event-stream")

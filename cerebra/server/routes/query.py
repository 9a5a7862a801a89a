"""Cerebra's own query API: POST /api/llm/query runs the whole prompt path (a client that
disconnects stops its generation)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from cerebra.auth.principal import Scope
from cerebra.brain import Brain
from cerebra.context import RequestContext
from cerebra.exchange import Answer, AskOptions
from cerebra.models.base import Message
from cerebra.server.auth import requires
from cerebra.server.deps import get_brain
from cerebra.server.disconnect import first_event, guarded_stream, watched
from cerebra.server.openapi_doc import STREAMING
from cerebra.server.request_schemas import WHOLE
from cerebra.server.trace_http import begin_trace

router = APIRouter(prefix="/api/llm", tags=["llm"])


class Turn(BaseModel):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=20_000)


class QueryIn(BaseModel):
    prompt: str = Field(min_length=1, max_length=20_000, pattern=r"\S",
                        description="the user's prompt (not blank)")
    history: list[Turn] = Field(
        default_factory=list, max_length=256, description="earlier turns, oldest first"
    )
    user_id: str = Field(default="", max_length=200)
    agent_id: str = Field(default="", max_length=200)
    session_id: str = Field(default="", max_length=200)
    model: str | None = Field(default=None, max_length=200)
    max_tokens: Annotated[int, Field(ge=1, le=2048, strict=True), WHOLE] | None = Field(
        default=None, description="at most generation.max_tokens_cap (2048)")
    temperature: float | None = Field(default=None, ge=0.0, le=2.0, strict=True)
    memory: bool = Field(default=True, strict=True)
    stream: bool = Field(default=False, strict=True)


@router.post("/query", responses=STREAMING)
async def query(
    request: Request,
    body: QueryIn,
    brain: Brain = Depends(get_brain),
    ctx: RequestContext = Depends(requires(Scope.QUERY)),
) -> Any:
    args: AskOptions = {
        "context": ctx,
        "user_id": body.user_id,
        "agent_id": body.agent_id,
        "session_id": body.session_id,
        "model": body.model,
        "max_tokens": body.max_tokens,
        "temperature": body.temperature,
        "memory": body.memory,
        "history": [Message(t.role, t.content) for t in body.history],
        "endpoint": "api",
        "trace": begin_trace(request, brain, "api"),  # sampled or not, decided once here
    }
    cancellation = brain.new_cancellation()  # stops the generation if the client leaves
    args["cancellation"] = cancellation
    if not body.stream:
        answer = await watched(request, cancellation, brain.aask(body.prompt, **args))
        return answer.to_dict()
    events = brain.astream(body.prompt, **args)
    first, watch = await first_event(request, cancellation, events)

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

    return StreamingResponse(guarded_stream(sse(), cancellation, watch),
                             media_type="text/event-stream")

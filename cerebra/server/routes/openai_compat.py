"""OpenAI-compatible gateway: /v1/chat/completions, /v1/completions (plain and server-sent
events), /v1/embeddings and /v1/models.

Routes parse (cerebra.server.openai_schemas), call Brain and format. Memory is on unless the
request says `metadata: {"memory": "off"}` or sends `X-Cerebra-Memory: off`; off, the
gateway is a pure proxy: the client's messages reach the model unchanged. A client that
disconnects stops its generation (streaming or not).
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse

from cerebra.auth.principal import Scope
from cerebra.brain import Brain
from cerebra.context import RequestContext
from cerebra.errors import InvalidInput, UnknownModel
from cerebra.exchange import Answer, Query
from cerebra.followups import Followups
from cerebra.ids import new_id
from cerebra.models.cancellation import Cancellation
from cerebra.observability.tracing import NoTrace, Trace
from cerebra.server.auth import requires
from cerebra.server.deps import get_brain
from cerebra.server.disconnect import first_event, guarded_stream, watched
from cerebra.server.followed import FollowedResponse
from cerebra.server.openai_schemas import (
    ChatCompletionIn,
    CompletionIn,
    EmbeddingIn,
    chat_chunk,
    chat_completion,
    memory_wanted,
    openai_finish,
    sse,
    text_completion,
)
from cerebra.server.openapi_doc import STREAMING
from cerebra.server.trace_http import begin_trace

router = APIRouter(prefix="/v1", tags=["openai"])


def _chat_query(body: ChatCompletionIn, header: str | None, ctx: RequestContext,
                cancellation: Cancellation | None = None,
                trace: Trace | NoTrace | None = None) -> Query:
    meta = body.metadata or {}
    return Query(
        prompt=body.recall_text(),
        messages=tuple(m.to_message() for m in body.messages),
        context=ctx.with_(
            user_id=str(meta.get("user_id", body.user or "")),
            agent_id=str(meta.get("agent_id", "")),
            session_id=str(meta.get("session_id", "")),
        ),
        model=body.model,
        max_tokens=body.max_completion_tokens or body.max_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        stop=body.stops(),
        memory=memory_wanted(meta, header),
        persona=None,
        extra=body.backend_extra(),
        endpoint="openai.chat",
        cancellation=cancellation,
        trace=trace,
    )


# The gateway's hot path takes the Brain and the X-Cerebra-Memory header from the request
# itself rather than as dependencies: each dependency FastAPI solves costs a request tens of
# microseconds (docs/performance.md). The header stays documented.
_MEMORY_HEADER = {"parameters": [{
    "name": "x-cerebra-memory", "in": "header", "required": False,
    "schema": {"type": "string"},
    "description": "`off` answers without memory (a pure proxy), like metadata.memory",
}]}


def check_caps(brain: Brain, body: ChatCompletionIn) -> None:
    cap = brain.settings.generation.max_tokens_cap
    if body.max_completion_tokens and body.max_tokens is not None and body.max_tokens > cap:
        # max_completion_tokens is the one used; the other is still held to the cap
        raise InvalidInput(f"max_tokens is {body.max_tokens}; the cap is {cap} "
                           "(CEREBRA_MAX_TOKENS_CAP)", field="max_tokens", cap=cap)


async def chat_answer(request: Request, brain: Brain, body: ChatCompletionIn,
                      ctx: RequestContext, memory_header: str | None) -> JSONResponse:
    """A non-streaming chat completion: the route's and the direct path's one answer
    (cerebra/server/direct_chat.py)."""
    check_caps(brain, body)
    cancellation = brain.new_cancellation()  # stops the generation if the client leaves
    query = _chat_query(body, memory_header, ctx, cancellation,
                        begin_trace(request, brain, "openai.chat"))
    followups = Followups()  # settling, the ledger's row, metrics: after the answer is sent
    try:
        answer = await watched(request, cancellation, brain.arun(query, followups=followups))
        body_out = chat_completion(answer, f"chatcmpl-{new_id()}", int(time.time()))
    except BaseException:
        followups.run()
        raise
    # a ready response skips FastAPI's generic encoder on the hot path
    return FollowedResponse(body_out, followups)


@router.post("/chat/completions", responses=STREAMING, openapi_extra=_MEMORY_HEADER)
async def chat_completions(
    request: Request,
    body: ChatCompletionIn,
    ctx: RequestContext = Depends(requires(Scope.QUERY)),
) -> Any:
    # well-formed, authenticated, non-streaming requests are answered by the direct path
    # (cerebra/server/direct_chat.py) before they reach this route, with the same answer;
    # this route answers streams, refusals and anything the direct path passes on
    brain: Brain = request.app.state.brain
    header = request.headers.get("x-cerebra-memory")
    if not body.stream:
        return await chat_answer(request, brain, body, ctx, header)
    check_caps(brain, body)
    cancellation = brain.new_cancellation()  # stops the generation if the client leaves
    query = _chat_query(body, header, ctx, cancellation,
                        begin_trace(request, brain, "openai.chat"))
    completion_id = f"chatcmpl-{new_id()}"
    created = int(time.time())
    events = brain.arun_stream(query)
    first, watch = await first_event(request, cancellation, events)
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    model = body.model

    async def stream() -> AsyncIterator[str]:
        yield chat_chunk(completion_id, created, model, {"role": "assistant", "content": ""})
        item: str | Answer = first
        while not isinstance(item, Answer):
            yield chat_chunk(completion_id, created, model, {"content": item})
            item = await events.__anext__()
        if item.tool_calls:
            calls = [{"index": i, **c.to_openai()} for i, c in enumerate(item.tool_calls)]
            yield chat_chunk(completion_id, created, model, {"tool_calls": calls})
        yield chat_chunk(completion_id, created, model, {}, item.finish_reason)
        if include_usage:
            yield sse(
                {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [],
                    "usage": item.usage.to_dict(),
                }
            )
        yield "data: [DONE]\n\n"

    return StreamingResponse(guarded_stream(stream(), cancellation, watch),
                             media_type="text/event-stream")


@router.post("/completions", responses=STREAMING)
async def completions(
    request: Request,
    body: CompletionIn,
    brain: Brain = Depends(get_brain),
    ctx: RequestContext = Depends(requires(Scope.QUERY)),
) -> Any:
    prompt = body.prompt_text()
    query = Query(
        prompt=prompt,
        context=ctx.with_(user_id=body.user or ""),
        model=body.model,
        max_tokens=body.max_tokens or 16,
        temperature=body.temperature,
        top_p=body.top_p,
        stop=body.stops(),
        raw=True,
        extra=body.backend_extra(),
        endpoint="openai.completions",
        cancellation=(cancellation := brain.new_cancellation()),
        trace=begin_trace(request, brain, "openai.completions"),
    )
    completion_id = f"cmpl-{new_id()}"
    created = int(time.time())
    echo = prompt if body.echo else ""
    if not body.stream:
        answer = await watched(request, cancellation, brain.arun(query))
        return text_completion(answer, completion_id, created, echo)

    events = brain.arun_stream(query)
    first, watch = await first_event(request, cancellation, events)

    def chunk(text: str, finish: str | None) -> str:
        return sse(
            {
                "id": completion_id,
                "object": "text_completion",
                "created": created,
                "model": body.model,
                "choices": [
                    {"index": 0, "text": text, "logprobs": None,
                     "finish_reason": openai_finish(finish)}
                ],
            }
        )

    async def stream() -> AsyncIterator[str]:
        if echo:
            yield chunk(echo, None)
        item: str | Answer = first
        while not isinstance(item, Answer):
            yield chunk(item, None)
            item = await events.__anext__()
        yield chunk("", item.finish_reason)
        yield "data: [DONE]\n\n"

    return StreamingResponse(guarded_stream(stream(), cancellation, watch),
                             media_type="text/event-stream")


@router.post("/embeddings", dependencies=[Depends(requires(Scope.QUERY))])
async def embeddings(body: EmbeddingIn, brain: Brain = Depends(get_brain)) -> Any:
    embedder = brain.memory.embedder
    known = [embedder.model_id, embedder.model_id.rsplit("/", 1)[-1]]
    if body.model not in known:
        raise UnknownModel(body.model, known)
    texts = body.texts()
    vectors = await asyncio.to_thread(embedder.embed, texts)
    if body.dimensions is not None and body.dimensions < vectors.shape[1]:
        vectors = vectors[:, : body.dimensions]
        vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)
    data: list[dict[str, Any]] = []
    for i, row in enumerate(vectors):
        vec: Any = (
            base64.b64encode(np.asarray(row, dtype="<f4").tobytes()).decode()
            if body.encoding_format == "base64"
            else [float(x) for x in row]
        )
        data.append({"object": "embedding", "index": i, "embedding": vec})
    tokens = sum(len(t.split()) for t in texts)
    return {
        "object": "list",
        "data": data,
        "model": body.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


@router.get("/models", dependencies=[Depends(requires(Scope.MODELS_READ))])
def list_models(brain: Brain = Depends(get_brain)) -> dict[str, Any]:
    available = set(brain.models.available())  # models out of rotation are not offered
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
            if name in available
        ],
    }

"""A ModelBackend for any OpenAI-compatible server: vLLM, SGLang, Ollama, the llama.cpp
server, OpenRouter, OpenAI itself.

Chat requests go to `/chat/completions`; raw prompts go to the legacy `/completions`
(or, with `completions_api=False`, to chat as one user message). Sync and async calls share
one pooled keep-alive connection set (`HttpPool`); streams are server-sent events. Tools in
`request.extra["tools"]` (and `tool_choice`, ...) pass through; tool calls come back in
`Generation.tool_calls` / the last `StreamChunk.tool_calls`. Embeddings: `OpenAIEmbedder`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import aclosing, closing

import httpx

from cerebra.models.base import Generation, GenerationRequest, StreamChunk
from cerebra.models.http_pool import HttpPool, PoolConfig
from cerebra.models.openai_embeddings import OpenAIEmbedder
from cerebra.models.openai_wire import StreamState, build_body, parse_reply
from cerebra.models.pricing import PriceTable
from cerebra.models.remote import RemoteBackend

__all__ = ["OpenAIEmbedder", "OpenAIHTTPBackend"]


class OpenAIHTTPBackend(RemoteBackend):
    """One model on one OpenAI-compatible server.

    `base_url` includes the API prefix, e.g. "http://localhost:8000/v1" (vLLM) or
    "https://api.openai.com/v1". `max_tokens_field="max_completion_tokens"` suits OpenAI's
    reasoning models. `stream_usage=False` leaves out `stream_options` for servers that
    reject it (usage is then estimated).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        name: str | None = None,
        api_key: str | None = None,
        headers: Mapping[str, str] | None = None,
        completions_api: bool = True,
        max_tokens_field: str = "max_tokens",
        stream_usage: bool = True,
        max_context: int = 8192,
        tools: bool = True,
        pricing: PriceTable | None = None,
        cost_per_input_token: float | None = None,
        cost_per_output_token: float | None = None,
        timeout_s: float = 60.0,
        connect_timeout_s: float = 5.0,
        max_connections: int = 100,
        max_keepalive: int = 20,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.name = name or model
        self.model = model
        self.completions_api = completions_api
        self.max_tokens_field = max_tokens_field
        self.stream_usage = stream_usage
        all_headers = {"Accept": "application/json", **(headers or {})}
        if api_key:
            all_headers["Authorization"] = f"Bearer {api_key}"
        self.pool = HttpPool(
            base_url, backend=self.name, headers=all_headers,
            config=PoolConfig(timeout_s=timeout_s, connect_timeout_s=connect_timeout_s,
                              max_connections=max_connections, max_keepalive=max_keepalive),
            transport=transport, async_transport=async_transport,
        )
        self._setup_capabilities(max_context=max_context, tools=tools, pricing=pricing,
                                 cost_per_input_token=cost_per_input_token,
                                 cost_per_output_token=cost_per_output_token)

    def _route(self, request: GenerationRequest, stream: bool) -> tuple[str, dict[str, object],
                                                                          bool]:
        chat = request.prompt is None or not self.completions_api
        body = build_body(request, self.model, chat=chat, stream=stream,
                          max_tokens_field=self.max_tokens_field,
                          stream_usage=self.stream_usage)
        return ("/chat/completions" if chat else "/completions"), body, chat

    def _generation(self, request: GenerationRequest, data: dict[str, object], chat: bool,
                    start: float) -> Generation:
        text, finish, calls, usage = parse_reply(dict(data), self.name, chat=chat)
        return Generation(
            text=text,
            model=self.name,
            usage=self._usage(usage, request, text),
            finish_reason=finish,
            latency_ms=(time.perf_counter() - start) * 1000,
            tool_calls=calls,
        )

    def generate(self, request: GenerationRequest) -> Generation:
        path, body, chat = self._route(request, stream=False)
        start = time.perf_counter()
        return self._generation(request, self.pool.post_json(path, body), chat, start)

    async def agenerate(self, request: GenerationRequest) -> Generation:
        path, body, chat = self._route(request, stream=False)
        start = time.perf_counter()
        return self._generation(request, await self.pool.apost_json(path, body), chat, start)

    def stream(self, request: GenerationRequest) -> Iterator[StreamChunk]:
        path, body, chat = self._route(request, stream=True)
        state = StreamState(self.name, chat=chat)
        with closing(self.pool.post_events(path, body)) as events:
            for event in events:  # read to the end (past [DONE]): the connection is reused
                chunk = state.feed(event.data)
                if chunk is not None:
                    yield chunk
        state.check_complete()
        yield state.final(self._usage(state.usage, request, "".join(state.pieces)))

    async def astream(self, request: GenerationRequest) -> AsyncIterator[StreamChunk]:
        path, body, chat = self._route(request, stream=True)
        state = StreamState(self.name, chat=chat)
        async with aclosing(self.pool.apost_events(path, body)) as events:
            async for event in events:
                chunk = state.feed(event.data)
                if chunk is not None:
                    yield chunk
        state.check_complete()
        yield state.final(self._usage(state.usage, request, "".join(state.pieces)))

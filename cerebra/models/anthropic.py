"""A ModelBackend for Anthropic's Messages API, spoken over httpx directly (no SDK).

Headers `x-api-key` and `anthropic-version`; the system prompt travels apart from the
turns; `max_tokens` is always sent; streams are the Messages event stream. Tools given in
OpenAI form (`request.extra["tools"]`) are translated, and `tool_use` blocks come back as
`Generation.tool_calls`. Usage is Anthropic's input_tokens (+ cache reads/writes) and
output_tokens.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import aclosing, closing
from typing import Any, Literal

import httpx

from cerebra.models.anthropic_wire import StreamState, build_body, parse_reply
from cerebra.models.base import Generation, GenerationRequest, StreamChunk
from cerebra.models.http_pool import HttpPool, PoolConfig
from cerebra.models.pricing import PriceTable
from cerebra.models.remote import RemoteBackend

DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_VERSION = "2023-06-01"


class AnthropicBackend(RemoteBackend):
    """One Claude model. `base_url` is the host root; requests go to {base_url}/v1/messages.

    The key goes in `x-api-key` (or, with `auth="bearer"`, as `Authorization: Bearer`, which
    newer SDKs use). Temperature is clamped to Anthropic's 0..1. `top_p` is sent only with
    `send_top_p=True` (recent models refuse temperature and top_p together).
    """

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        name: str | None = None,
        version: str = DEFAULT_VERSION,
        beta: str | None = None,
        auth: Literal["x-api-key", "bearer"] = "x-api-key",
        headers: Mapping[str, str] | None = None,
        send_top_p: bool = False,
        max_context: int = 200_000,
        tools: bool = True,
        pricing: PriceTable | None = None,
        cost_per_input_token: float | None = None,
        cost_per_output_token: float | None = None,
        timeout_s: float = 120.0,
        connect_timeout_s: float = 5.0,
        max_connections: int = 100,
        max_keepalive: int = 20,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.name = name or model
        self.model = model
        self.send_top_p = send_top_p
        all_headers = {"anthropic-version": version, "Accept": "application/json",
                       **(headers or {})}
        if api_key and auth == "bearer":
            all_headers["Authorization"] = f"Bearer {api_key}"
        elif api_key:
            all_headers["x-api-key"] = api_key
        if beta:
            all_headers["anthropic-beta"] = beta
        self.pool = HttpPool(
            base_url, backend=self.name, headers=all_headers,
            config=PoolConfig(timeout_s=timeout_s, connect_timeout_s=connect_timeout_s,
                              max_connections=max_connections, max_keepalive=max_keepalive),
            transport=transport, async_transport=async_transport,
        )
        self._setup_capabilities(max_context=max_context, tools=tools, pricing=pricing,
                                 cost_per_input_token=cost_per_input_token,
                                 cost_per_output_token=cost_per_output_token)

    def _body(self, request: GenerationRequest, stream: bool) -> dict[str, Any]:
        return build_body(request, self.model, stream=stream, send_top_p=self.send_top_p)

    def _generation(self, request: GenerationRequest, data: dict[str, Any], start: float
                    ) -> Generation:
        text, finish, calls, counts = parse_reply(data, self.name)
        return Generation(
            text=text,
            model=self.name,
            usage=self._usage(counts, request, text),
            finish_reason=finish,
            latency_ms=(time.perf_counter() - start) * 1000,
            tool_calls=calls,
        )

    def generate(self, request: GenerationRequest) -> Generation:
        start = time.perf_counter()
        data = self.pool.post_json("/v1/messages", self._body(request, stream=False))
        return self._generation(request, data, start)

    async def agenerate(self, request: GenerationRequest) -> Generation:
        start = time.perf_counter()
        data = await self.pool.apost_json("/v1/messages", self._body(request, stream=False))
        return self._generation(request, data, start)

    def _final(self, state: StreamState, request: GenerationRequest) -> StreamChunk:
        calls = state.tool_calls()
        return StreamChunk(
            text="",
            finish_reason=state.finish or ("tool_calls" if calls else "stop"),
            usage=self._usage(state.usage_counts(), request, "".join(state.pieces)),
            tool_calls=calls,
        )

    def stream(self, request: GenerationRequest) -> Iterator[StreamChunk]:
        state = StreamState(self.name)
        body = self._body(request, stream=True)
        with closing(self.pool.post_events("/v1/messages", body)) as events:
            for event in events:
                chunk = state.feed(event.event, event.data)
                if chunk is not None:
                    yield chunk
        state.check_complete()
        yield self._final(state, request)

    async def astream(self, request: GenerationRequest) -> AsyncIterator[StreamChunk]:
        state = StreamState(self.name)
        body = self._body(request, stream=True)
        async with aclosing(self.pool.apost_events("/v1/messages", body)) as events:
            async for event in events:
                chunk = state.feed(event.event, event.data)
                if chunk is not None:
                    yield chunk
        state.check_complete()
        yield self._final(state, request)

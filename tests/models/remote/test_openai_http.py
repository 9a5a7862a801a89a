"""OpenAIHTTPBackend against the fake OpenAI server over real loopback sockets: chat,
legacy completions, streams, tools, pooling, usage and cost, and every injected fault."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cerebra.errors import PromptTooLong
from cerebra.models.base import GenerationRequest, Message, ModelBackend, ToolCall
from cerebra.models.http_errors import UpstreamError, UpstreamPromptTooLong, UpstreamRejected
from cerebra.models.openai_http import OpenAIHTTPBackend
from tests.fakes.faults import FaultPlan
from tests.helpers import free_port
from tests.models.remote.conftest import OPENAI_KEY

CHAT = GenerationRequest(messages=(Message("system", "be brief"), Message("user", "hello there")),
                         max_tokens=10, temperature=0.2, seed=7)
TOOLS: list[dict[str, Any]] = [{"type": "function", "function": {
    "name": "search", "description": "Search", "parameters": {
        "type": "object", "properties": {"query": {"type": "string"}}}}}]


def backend(url: str, model: str = "gpt-4o-mini", **kwargs: Any) -> OpenAIHTTPBackend:
    kwargs.setdefault("api_key", OPENAI_KEY)
    return OpenAIHTTPBackend(url, model, **kwargs)


async def collect(b: OpenAIHTTPBackend, request: GenerationRequest) -> list[Any]:
    return [chunk async for chunk in b.astream(request)]


def test_chat_generate_sends_the_openai_body_and_reports_usage_and_cost(
        openai_url: str, openai_plan: FaultPlan) -> None:
    b = backend(openai_url, name="mini")
    assert isinstance(b, ModelBackend) and b.capabilities.tools
    out = b.generate(CHAT.with_(extra={"tenant_id": "t1", "response_format": {"type": "text"},
                                       "extra_body": {"top_k": 5}}))
    assert out.text == "gpt-4o-mini says: hello there" and out.model == "mini"
    assert out.usage.prompt_tokens == 4 and out.usage.completion_tokens == 4
    assert out.finish_reason == "stop" and out.latency_ms > 0
    # gpt-4o-mini: $0.15 / $0.60 per million tokens, from the built-in price table
    assert b.cost(out.usage) == pytest.approx(4 * 0.15e-6 + 4 * 0.60e-6)
    seen = openai_plan.requests[-1]
    assert seen["path"] == "/v1/chat/completions"
    assert seen["headers"]["authorization"] == f"Bearer {OPENAI_KEY}"
    body = seen["body"]
    assert body["messages"] == [{"role": "system", "content": "be brief"},
                                {"role": "user", "content": "hello there"}]
    assert (body["max_tokens"], body["temperature"], body["seed"]) == (10, 0.2, 7)
    assert body["response_format"] == {"type": "text"} and body["top_k"] == 5
    assert "tenant_id" not in body and "stream" not in body


def test_stream_yields_text_then_one_final_chunk_with_usage(openai_url: str) -> None:
    chunks = list(backend(openai_url).stream(CHAT))
    assert "".join(c.text for c in chunks) == "gpt-4o-mini says: hello there"
    assert len(chunks) == 5 and all(c.finish_reason is None for c in chunks[:-1])
    final = chunks[-1]
    assert final.finish_reason == "stop" and final.usage is not None
    assert final.usage.prompt_tokens == 4 and final.usage.completion_tokens == 4


def test_length_finish_and_legacy_completions_for_raw_prompts(
        openai_url: str, openai_plan: FaultPlan) -> None:
    b = backend(openai_url)
    out = b.generate(GenerationRequest(prompt="once upon a time", max_tokens=3))
    assert out.text == "gpt-4o-mini says: once" and out.finish_reason == "length"
    assert openai_plan.requests[-1]["path"] == "/v1/completions"
    streamed = list(b.stream(GenerationRequest(prompt="once upon", max_tokens=3)))
    assert "".join(c.text for c in streamed) == "gpt-4o-mini says: once"
    assert streamed[-1].usage is not None and streamed[-1].usage.completion_tokens == 3
    chat_only = backend(openai_url, completions_api=False)
    chat_only.generate(GenerationRequest(prompt="raw", max_tokens=3))
    assert openai_plan.requests[-1]["path"] == "/v1/chat/completions"
    assert openai_plan.requests[-1]["body"]["messages"] == [{"role": "user", "content": "raw"}]


async def test_async_generate_and_stream(openai_url: str) -> None:
    b = backend(openai_url)
    out = await b.agenerate(CHAT)
    assert out.text == "gpt-4o-mini says: hello there"
    chunks = await collect(b, CHAT)
    assert "".join(c.text for c in chunks) == out.text
    assert chunks[-1].usage == out.usage
    await b.aclose()


def test_tools_pass_through_and_tool_calls_come_back(openai_url: str,
                                                      openai_plan: FaultPlan) -> None:
    b = backend(openai_url)
    request = CHAT.with_(extra={"tools": TOOLS, "tool_choice": "auto"})
    out = b.generate(request)
    assert out.finish_reason == "tool_calls" and out.text == ""
    assert out.tool_calls == (ToolCall("call_fake_1", "search", '{"query": "hello there"}'),)
    assert openai_plan.requests[-1]["body"]["tools"] == TOOLS
    final = list(b.stream(request))[-1]  # arguments arrive in fragments and are joined
    assert final.tool_calls == out.tool_calls and final.finish_reason == "tool_calls"
    follow_up = GenerationRequest(messages=(
        Message("user", "hello there"),
        Message("assistant", "", tool_calls=out.tool_calls),
        Message("tool", "sunny", tool_call_id="call_fake_1"),
    ), extra={"tools": TOOLS})
    answer = b.generate(follow_up)
    assert answer.text == "tool said: sunny"
    sent = openai_plan.requests[-1]["body"]["messages"]
    assert sent[1] == {"role": "assistant", "content": None,
                       "tool_calls": [out.tool_calls[0].to_openai()]}
    assert sent[2] == {"role": "tool", "content": "sunny", "tool_call_id": "call_fake_1"}


async def test_async_stream_tool_calls(openai_url: str) -> None:
    chunks = await collect(backend(openai_url), CHAT.with_(extra={"tools": TOOLS}))
    assert json.loads(chunks[-1].tool_calls[0].arguments) == {"query": "hello there"}


async def test_one_pooled_keep_alive_connection_serves_sequential_calls(
        openai_url: str, openai_plan: FaultPlan) -> None:
    b = backend(openai_url)
    b.generate(CHAT)
    list(b.stream(CHAT))
    b.generate(CHAT)
    sync_ports = {r["client_port"] for r in openai_plan.requests}
    assert len(sync_ports) == 1  # one socket reused: keep-alive through a stream too
    openai_plan.clear()
    await b.agenerate(CHAT)
    await collect(b, CHAT)
    await b.agenerate(CHAT)
    assert len({r["client_port"] for r in openai_plan.requests}) == 1
    b.close()


# -- faults -------------------------------------------------------------------------------
def call(b: OpenAIHTTPBackend, request: GenerationRequest, mode: str) -> Any:
    return b.generate(request) if mode == "generate" else list(b.stream(request))


@pytest.mark.parametrize("mode", ["generate", "stream"])
def test_429_is_retryable_with_retry_after(openai_url: str, openai_plan: FaultPlan,
                                           mode: str) -> None:
    openai_plan.add("429", retry_after=7)
    with pytest.raises(UpstreamError) as info:
        call(backend(openai_url), CHAT, mode)
    err = info.value
    assert err.retryable and err.retry_after == 7 and err.upstream_status == 429
    assert "Rate limit" in err.detail and "Rate limit" not in err.message


@pytest.mark.parametrize("mode", ["generate", "stream"])
@pytest.mark.parametrize("kind", ["500", "timeout", "malformed_json", "broken_stream"])
def test_transient_faults_are_retryable_backend_errors(openai_url: str, openai_plan: FaultPlan,
                                                       kind: Any, mode: str) -> None:
    openai_plan.add(kind, sleep_s=2.0, after_chunks=1)
    with pytest.raises(UpstreamError) as info:
        call(backend(openai_url, timeout_s=0.5), CHAT, mode)
    assert info.value.retryable, info.value.message
    expected = {"500": "HTTP 500", "timeout": "timed out", "malformed_json": "malformed",
                "broken_stream": "broken mid-"}[kind]
    assert expected in info.value.message


def test_a_stream_cut_mid_way_fails_after_the_text_it_delivered(
        openai_url: str, openai_plan: FaultPlan) -> None:
    for kind in ("broken_stream", "truncated_stream"):
        openai_plan.add(kind, after_chunks=3)  # the role chunk and two words
        got: list[str] = []
        with pytest.raises(UpstreamError, match="stream broken mid-way") as info:
            for chunk in backend(openai_url).stream(CHAT):
                got.append(chunk.text)
        assert got == ["gpt-4o-mini", " says:"] and info.value.retryable


async def test_async_faults(openai_url: str, openai_plan: FaultPlan) -> None:
    b = backend(openai_url, timeout_s=0.5)
    openai_plan.add("timeout", sleep_s=2.0)
    with pytest.raises(UpstreamError, match="timed out"):
        await b.agenerate(CHAT)
    openai_plan.add("broken_stream", after_chunks=2)
    with pytest.raises(UpstreamError, match="broken mid-way"):
        await collect(b, CHAT)
    openai_plan.add("malformed_json")
    with pytest.raises(UpstreamError, match="malformed"):
        await collect(b, CHAT)
    assert (await b.agenerate(CHAT)).text  # the pool recovers after every fault


def test_client_side_problems_are_not_retryable(openai_url: str) -> None:
    with pytest.raises(UpstreamError) as info:
        backend(openai_url, api_key="wrong").generate(CHAT)
    assert info.value.upstream_status == 401 and not info.value.retryable
    with pytest.raises(UpstreamRejected) as rejected:
        backend(openai_url).generate(GenerationRequest(messages=()))
    assert rejected.value.status_code == 422 and not rejected.value.retryable
    long_chat = GenerationRequest(messages=(Message("user", "word " * 1200),))
    with pytest.raises(PromptTooLong, match="too long for this model") as too_long:
        backend(openai_url).generate(long_chat)
    assert isinstance(too_long.value, UpstreamPromptTooLong)
    assert "maximum context length" in too_long.value.detail


def test_unreachable_server_is_retryable_and_probe_reports_it(openai_url: str) -> None:
    dead = backend(f"http://127.0.0.1:{free_port()}/v1", connect_timeout_s=0.5)
    with pytest.raises(UpstreamError, match="cannot reach") as info:
        dead.generate(CHAT)
    assert info.value.retryable and info.value.upstream_status is None
    probe = dead.probe()
    assert not probe.ok and "cannot reach" in probe.detail
    assert backend(openai_url).probe().ok


async def test_concurrent_async_calls_share_a_bounded_pool(openai_url: str,
                                                           openai_plan: FaultPlan) -> None:
    import asyncio

    b = backend(openai_url, max_connections=4, max_keepalive=4)
    requests = [CHAT.with_(messages=(Message("user", f"question {i}"),)) for i in range(24)]
    outs = await asyncio.gather(*(b.agenerate(r) for r in requests))
    assert [o.text for o in outs] == [f"gpt-4o-mini says: question {i}" for i in range(24)]
    assert len({r["client_port"] for r in openai_plan.requests}) <= 4
    await b.aclose()


async def test_the_async_client_sends_json_also_what_orjson_refuses(
        openai_url: str, openai_plan: FaultPlan) -> None:
    b = backend(openai_url, name="mini")
    for big in (7, 2**70):  # orjson's bytes, then the standard library's for a 70-bit int
        out = await b.agenerate(CHAT.with_(extra={"extra_body": {"big": big}}))
        assert out.text == "gpt-4o-mini says: hello there"
        seen = openai_plan.requests[-1]
        assert seen["headers"]["content-type"] == "application/json"
        assert seen["body"]["big"] == big
    await b.aclose()

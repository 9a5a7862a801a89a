"""AnthropicBackend against the fake Messages API over loopback (and MockTransport for an
upstream error event): headers, system prompt, event stream, tool_use, usage, faults."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from cerebra.models.anthropic import AnthropicBackend
from cerebra.models.base import GenerationRequest, Message, ModelBackend, ToolCall
from cerebra.models.http_errors import UpstreamError, UpstreamRejected
from tests.fakes.faults import FaultPlan
from tests.models.remote.conftest import ANTHROPIC_KEY

CHAT = GenerationRequest(messages=(Message("system", "be brief"), Message("system", "be kind"),
                                   Message("user", "hello claude")),
                         max_tokens=20, temperature=1.5, stop=("\n\n",))
TOOLS: list[dict[str, Any]] = [{"type": "function", "function": {
    "name": "lookup", "description": "Look up", "parameters": {
        "type": "object", "properties": {"query": {"type": "string"}}}}}]


def backend(url: str, model: str = "claude-haiku-4-5", **kwargs: Any) -> AnthropicBackend:
    kwargs.setdefault("api_key", ANTHROPIC_KEY)
    return AnthropicBackend(model, base_url=url, **kwargs)


async def collect(b: AnthropicBackend, request: GenerationRequest) -> list[Any]:
    return [chunk async for chunk in b.astream(request)]


def test_generate_sends_a_messages_body_with_the_system_prompt_apart(
        anthropic_url: str, anthropic_plan: FaultPlan) -> None:
    b = backend(anthropic_url)
    assert isinstance(b, ModelBackend)
    out = b.generate(CHAT)
    assert out.text == "claude-haiku-4-5 says: hello claude" and out.finish_reason == "stop"
    assert out.usage.prompt_tokens == 6 and out.usage.completion_tokens == 4
    assert b.cost(out.usage) == pytest.approx(6 * 1e-6 + 4 * 5e-6)  # $1 / $5 per Mtok
    seen = anthropic_plan.requests[-1]
    assert seen["path"] == "/v1/messages"
    assert seen["headers"]["x-api-key"] == ANTHROPIC_KEY
    assert seen["headers"]["anthropic-version"] == "2023-06-01"
    body = seen["body"]
    assert body["system"] == "be brief\n\nbe kind"
    assert body["messages"] == [{"role": "user", "content": "hello claude"}]
    assert body["max_tokens"] == 20 and body["temperature"] == 1.0  # clamped to 0..1
    assert body["stop_sequences"] == ["\n\n"] and "top_p" not in body


def test_event_stream_text_usage_and_max_tokens(anthropic_url: str) -> None:
    chunks = list(backend(anthropic_url).stream(CHAT.with_(max_tokens=3)))
    assert "".join(c.text for c in chunks) == "claude-haiku-4-5 says: hello"
    final = chunks[-1]
    assert final.finish_reason == "length" and final.usage is not None
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (6, 3)


async def test_async_generate_and_stream(anthropic_url: str) -> None:
    b = backend(anthropic_url, auth="bearer")
    out = await b.agenerate(CHAT)
    chunks = await collect(b, CHAT)
    assert "".join(c.text for c in chunks) == out.text
    assert chunks[-1].usage == out.usage
    await b.aclose()


def test_tools_are_translated_and_tool_use_comes_back(anthropic_url: str,
                                                       anthropic_plan: FaultPlan) -> None:
    b = backend(anthropic_url)
    request = CHAT.with_(extra={"tools": TOOLS, "tool_choice": "required"})
    out = b.generate(request)
    assert out.text == "Let me check." and out.finish_reason == "tool_calls"
    assert out.tool_calls == (ToolCall("toolu_fake_1", "lookup", '{"query": "hello claude"}'),)
    body = anthropic_plan.requests[-1]["body"]
    assert body["tools"] == [{"name": "lookup", "description": "Look up",
                              "input_schema": TOOLS[0]["function"]["parameters"]}]
    assert body["tool_choice"] == {"type": "any"}
    final = list(b.stream(request))[-1]  # input_json_delta fragments joined
    assert final.tool_calls == out.tool_calls and final.finish_reason == "tool_calls"
    answer = b.generate(GenerationRequest(messages=(
        Message("user", "hello claude"),
        Message("assistant", "Let me check.", tool_calls=out.tool_calls),
        Message("tool", "42", tool_call_id="toolu_fake_1"),
        Message("user", "and?"),
    ), extra={"tools": TOOLS}))
    sent = anthropic_plan.requests[-1]["body"]["messages"]
    assert sent[1] == {"role": "assistant", "content": [
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "toolu_fake_1", "name": "lookup",
         "input": {"query": "hello claude"}}]}
    assert sent[2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_fake_1", "content": "42"},
        {"type": "text", "text": "and?"}]}  # consecutive user turns merged
    assert "tool_result toolu_fake_1: 42" in answer.text


FAULTS = ["429", "500", "529", "timeout", "malformed_json", "broken_stream"]


@pytest.mark.parametrize(("kind", "mode"), [
    *[(k, "generate") for k in FAULTS],
    *[(k, "stream") for k in [*FAULTS, "truncated_stream"]],
])
def test_faults_become_retryable_backend_errors(anthropic_url: str, anthropic_plan: FaultPlan,
                                                kind: Any, mode: str) -> None:
    anthropic_plan.add(kind, retry_after=4, sleep_s=2.0, after_chunks=5)
    b = backend(anthropic_url, timeout_s=0.5)
    with pytest.raises(UpstreamError) as info:
        if mode == "generate":
            b.generate(CHAT)
        else:
            list(b.stream(CHAT))
    err = info.value
    assert err.retryable, err.message
    if kind == "429":
        assert err.retry_after == 4 and err.upstream_status == 429
    if kind in ("500", "529"):
        assert err.upstream_status == int(kind)
    assert b.generate(CHAT).text  # and the next call is fine


def test_text_before_a_cut_reaches_the_caller_then_the_error(
        anthropic_url: str, anthropic_plan: FaultPlan) -> None:
    anthropic_plan.add("broken_stream", after_chunks=5)  # start, block, ping, 2 deltas
    got: list[str] = []
    with pytest.raises(UpstreamError, match="broken mid-way"):
        for chunk in backend(anthropic_url).stream(CHAT):
            got.append(chunk.text)
    assert got == ["claude-haiku-4-5", " says:"]


def test_auth_and_bad_requests_are_not_retryable(anthropic_url: str) -> None:
    with pytest.raises(UpstreamError) as info:
        backend(anthropic_url, api_key="wrong").generate(CHAT)
    assert info.value.upstream_status == 401 and not info.value.retryable
    assert "authentication_error" in info.value.message
    with pytest.raises(UpstreamRejected) as rejected:
        backend(anthropic_url).generate(GenerationRequest(messages=(Message("assistant", "hi"),)))
    # the upstream's words are kept for the log and library callers, not put in the message
    assert "first message" in rejected.value.detail
    assert "first message" not in rejected.value.message


def test_an_error_event_mid_stream_is_a_backend_error() -> None:
    events = (
        'event: message_start\ndata: {"type":"message_start","message":{"usage":'
        '{"input_tokens":3,"output_tokens":1}}}\n\n'
        'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",'
        '"message":"Overloaded"}}\n\n'
    )

    def handler(request: httpx.Request) -> httpx.Response:
        assert json.loads(request.content)["stream"] is True
        return httpx.Response(200, text=events, headers={"content-type": "text/event-stream"})

    b = AnthropicBackend("claude-x", api_key="k", transport=httpx.MockTransport(handler))
    with pytest.raises(UpstreamError, match=r"error in its stream \(overloaded_error\)") as info:
        list(b.stream(CHAT))
    assert info.value.retryable and info.value.detail == "overloaded_error: Overloaded"

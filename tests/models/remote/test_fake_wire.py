"""The fakes speak the real wire formats: the official `openai` and `anthropic` clients
(sync, async, streaming, tools, embeddings) work against them unchanged."""

from __future__ import annotations

from typing import Any

import anthropic
import numpy as np
import openai
import pytest

from tests.models.remote.conftest import ANTHROPIC_KEY, OPENAI_KEY

TOOLS: list[dict[str, Any]] = [{"type": "function", "function": {
    "name": "search", "description": "Search the web",
    "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}}}]


def test_openai_sdk_chat_stream_tools_embeddings(openai_url: str) -> None:
    client = openai.OpenAI(base_url=openai_url, api_key=OPENAI_KEY, max_retries=0)
    reply = client.chat.completions.create(
        model="fake-gpt", messages=[{"role": "user", "content": "hi there"}], max_tokens=10)
    assert reply.choices[0].message.content == "fake-gpt says: hi there"
    assert reply.usage is not None and reply.usage.completion_tokens == 4
    stream = client.chat.completions.create(
        model="fake-gpt", messages=[{"role": "user", "content": "hi there"}], stream=True,
        stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "fake-gpt says: hi there"
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 2
    called = client.chat.completions.create(
        model="fake-gpt", messages=[{"role": "user", "content": "weather"}], tools=TOOLS)  # type: ignore[arg-type]
    calls = called.choices[0].message.tool_calls
    assert calls is not None and calls[0].function.name == "search"  # type: ignore[union-attr]
    legacy = client.completions.create(model="fake-gpt", prompt="once upon", max_tokens=3)
    assert legacy.choices[0].text == "fake-gpt says: once"
    vectors = client.embeddings.create(model="emb", input=["a", "b"])  # base64 by default
    assert [d.index for d in vectors.data] == [1, 0] and len(vectors.data[0].embedding) == 8
    assert client.models.list().data[0].id == "fake-gpt"


async def test_openai_async_sdk_streams(openai_url: str) -> None:
    client = openai.AsyncOpenAI(base_url=openai_url, api_key=OPENAI_KEY, max_retries=0)
    stream = await client.chat.completions.create(
        model="fake-gpt", messages=[{"role": "user", "content": "async hello"}], stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "fake-gpt says: async hello"


def test_openai_sdk_sees_injected_faults(openai_url: str, openai_plan: object) -> None:
    from tests.fakes.faults import FaultPlan

    assert isinstance(openai_plan, FaultPlan)
    client = openai.OpenAI(base_url=openai_url, api_key=OPENAI_KEY, max_retries=0)
    openai_plan.add("429", retry_after=3)
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert info.value.response.headers["retry-after"] == "3"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=openai_url, api_key="wrong", max_retries=0).embeddings.create(
            model="e", input="x")


def test_anthropic_sdk_messages_stream_and_tools(anthropic_url: str) -> None:
    client = anthropic.Anthropic(base_url=anthropic_url, api_key=ANTHROPIC_KEY, max_retries=0)
    reply = client.messages.create(model="claude-x", max_tokens=20, system="be brief",
                                   messages=[{"role": "user", "content": "hello claude"}])
    assert reply.content[0].type == "text"
    assert reply.content[0].text == "claude-x says: hello claude"
    assert reply.usage.input_tokens == 4 and reply.stop_reason == "end_turn"
    with client.messages.stream(model="claude-x", max_tokens=20,
                                messages=[{"role": "user", "content": "stream me"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "claude-x says: stream me" and final.usage.output_tokens == 4
    tools = [{"name": "search", "description": "d",
              "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}}}]
    with client.messages.stream(model="claude-x", max_tokens=50, tools=tools,  # type: ignore[arg-type]
                                messages=[{"role": "user", "content": "find it"}]) as stream:
        message = stream.get_final_message()
    tool_use = [b for b in message.content if b.type == "tool_use"]
    assert tool_use and tool_use[0].input == {"query": "find it"}
    assert message.stop_reason == "tool_use"


def test_anthropic_sdk_sees_overload_and_bad_requests(anthropic_url: str,
                                                      anthropic_plan: object) -> None:
    from tests.fakes.faults import FaultPlan

    assert isinstance(anthropic_plan, FaultPlan)
    client = anthropic.Anthropic(base_url=anthropic_url, api_key=ANTHROPIC_KEY, max_retries=0)
    anthropic_plan.add("529")
    with pytest.raises(anthropic.APIStatusError) as info:
        client.messages.create(model="c", max_tokens=5,
                               messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == 529
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(model="c", max_tokens=5,
                               messages=[{"role": "system", "content": "x"}])


def test_embedding_vectors_are_deterministic(openai_url: str) -> None:
    client = openai.OpenAI(base_url=openai_url, api_key=OPENAI_KEY, max_retries=0)
    one = client.embeddings.create(model="e", input="same", encoding_format="float")
    two = client.embeddings.create(model="e", input="same")
    assert np.allclose(one.data[0].embedding, two.data[0].embedding)

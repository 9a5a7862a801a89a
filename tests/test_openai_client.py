"""The official `openai` client against a real Cerebra server (uvicorn on loopback).

With the real GGUF, server and clients run in a child process (cerebra.isolated): a crash in
llama.cpp fails that test with the signal named instead of ending the test run."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from cerebra.config import get_settings
from cerebra.isolated import run_in_child
from cerebra.server.app import create_app
from tests.helpers import running_server


def _serve() -> Iterator[str]:
    get_settings.cache_clear()
    with running_server(create_app(get_settings())) as base:
        yield base


@pytest.fixture
def fake_server(fake_env: None) -> Iterator[str]:
    yield from _serve()


def _exercise(base: str, model: str, served: list[str] | None = None) -> None:
    client = openai.OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0)
    ids = [m.id for m in client.models.list().data]
    assert ids == (served or [model])
    done = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Say hello."}], max_tokens=12
    )
    assert done.choices[0].message.role == "assistant"
    assert done.usage is not None and done.usage.completion_tokens > 0
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Count to three."}],
        max_tokens=12,
        stream=True,
    )
    pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
    assert "".join(pieces).strip()
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(model=model, messages=[], max_tokens=3)


def test_openai_client_fake(fake_server: str) -> None:
    _exercise(fake_server, "gemma-3-270m")


def exercise_real_model() -> None:
    """In the child: a server over the packaged GGUF (from the environment that
    real_model_env set), the sync client, then the async one."""
    get_settings.cache_clear()
    with running_server(create_app(get_settings())) as base:
        _exercise(base, "gemma-3-270m", ["gemma-3-270m", "smollm2-135m-instruct"])
        out, chunks = asyncio.run(_async_calls(base))
        assert out.usage.completion_tokens > 0 and chunks


async def _async_calls(base: str) -> Any:
    client = openai.AsyncOpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0)
    out = await client.chat.completions.create(
        model="gemma-3-270m", messages=[{"role": "user", "content": "Hi"}], max_tokens=8
    )
    stream = await client.chat.completions.create(
        model="gemma-3-270m",
        messages=[{"role": "user", "content": "Hi"}],
        max_tokens=8,
        stream=True,
    )
    chunks = [c async for c in stream]
    return out, chunks


@pytest.mark.slow
def test_openai_client_real_model(real_model_env: None) -> None:
    run_in_child(exercise_real_model)

"""The gateway end to end on real sockets: the official openai client → Cerebra (router over
two OpenAI-compatible backends) → a fake upstream speaking the real wire format.

Covers tool calls passed through (plain and streamed), fallback when one upstream fails,
a clean error when every upstream fails, and the overhead header.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from cerebra.config import Settings
from cerebra.server.app import create_app
from tests.fakes.faults import FaultPlan
from tests.fakes.openai_server import make_openai_app
from tests.helpers import running_server

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look something up",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
        },
    }
]


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[str, FaultPlan]]:
    plan = FaultPlan()
    with running_server(make_openai_app(plan, api_key="sk-test")) as base:
        yield f"{base}/v1", plan


@pytest.fixture
def gateway(upstream: tuple[str, FaultPlan], tmp_path: Path) -> Iterator[tuple[str, FaultPlan]]:
    url, plan = upstream
    plan.clear()
    catalog = {
        "models": [
            {"name": "up-a", "kind": "openai", "base_url": url, "model": "a", "api_key": "sk-test"},
            {"name": "up-b", "kind": "openai", "base_url": url, "model": "b", "api_key": "sk-test"},
        ]
    }
    settings = Settings(
        home=tmp_path / "h",
        model={"embedded": False},
        memory={"embedder": "fake"},
        catalog={"inline": json.dumps(catalog)},
        router={"strategy": "thompson"},
        health={"interval_s": 0},
    )
    with running_server(create_app(settings)) as base:
        yield base, plan
    plan.clear()


def _client(base: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0)


def test_tool_calls_pass_through(gateway: tuple[str, FaultPlan]) -> None:
    base, _ = gateway
    client = _client(base)
    out = client.chat.completions.create(
        model="up-a",
        messages=[{"role": "user", "content": "weather in Lisbon"}],
        tools=TOOLS,  # type: ignore[arg-type]
    )
    call = out.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "lookup"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments)["query"] == "weather in Lisbon"  # type: ignore[union-attr]
    assert out.choices[0].finish_reason == "tool_calls"
    follow = client.chat.completions.create(
        model="up-a",
        messages=[
            {"role": "user", "content": "weather in Lisbon"},
            {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},  # type: ignore[list-item]
            {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
        ],
        tools=TOOLS,  # type: ignore[arg-type]
    )
    assert follow.choices[0].message is not None


def test_streamed_tool_calls(gateway: tuple[str, FaultPlan]) -> None:
    base, _ = gateway
    stream = _client(base).chat.completions.create(
        model="up-b",
        messages=[{"role": "user", "content": "find cats"}],
        tools=TOOLS,  # type: ignore[arg-type]
        stream=True,
    )
    calls = [
        tc for chunk in stream if chunk.choices for tc in chunk.choices[0].delta.tool_calls or ()
    ]
    assert calls and calls[0].function.name == "lookup"  # type: ignore[union-attr]


def test_router_falls_back_when_one_upstream_fails(gateway: tuple[str, FaultPlan]) -> None:
    base, plan = gateway
    plan.add("500", model="a", times=50)
    client = _client(base)
    for _ in range(6):
        r = client.chat.completions.with_raw_response.create(
            model="auto", messages=[{"role": "user", "content": "hello"}]
        )
        assert float(r.headers["x-cerebra-overhead-ms"]) >= 0
        assert r.parse().choices[0].message.content.startswith("b says")  # type: ignore[union-attr]


def test_clean_error_when_every_upstream_fails(gateway: tuple[str, FaultPlan]) -> None:
    base, plan = gateway
    plan.add("500", times=100)
    with pytest.raises(openai.APIStatusError) as err:
        _client(base).chat.completions.create(
            model="auto", messages=[{"role": "user", "content": "hello"}]
        )
    assert err.value.status_code == 502
    body = err.value.response.json()["error"]
    assert "up-a" in body["message"] and "up-b" in body["message"]

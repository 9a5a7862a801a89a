"""One ModelBackend conformance suite, run over every implementation and wrapper: FakeModel,
llama.cpp (the packaged GGUF), transformers (a tiny random model built offline), the
OpenAI-compatible and Anthropic backends (against the fake upstreams over loopback), and the
Router, fallback chain, cache, metering, admission-queue, registry-member and bare
WrapperBackend wrappers.

The contract: the protocol's shape; text and usage from generate; a stream whose last
chunk carries finish_reason and usage; the async pair agreeing with the sync one on
deterministic requests; max_tokens respected; a probe that reports rather than raises.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cerebra.errors import BackendError
from cerebra.models.anthropic import AnthropicBackend
from cerebra.models.base import GenerationRequest, Message, ModelBackend, StreamChunk
from cerebra.models.cache import CachedBackend
from cerebra.models.fallback import FallbackBackend
from cerebra.models.openai_http import OpenAIHTTPBackend
from cerebra.models.queued import QueuedBackend
from cerebra.models.registry import ModelRegistry
from cerebra.models.wrapper import WrapperBackend
from cerebra.observability.metrics import MeteredBackend, Metrics
from cerebra.routing.router import Router
from cerebra.testing import FakeModel
from tests.models.remote.conftest import ANTHROPIC_KEY, OPENAI_KEY
from tests.models.tiny_hf import make_tiny_model
from tests.routing.doubles import Failing

REQUEST = GenerationRequest(
    messages=(Message("system", "Answer briefly."), Message("user", "Name a colour.")),
    max_tokens=8,
    temperature=0.0,
)


def _fake(_: pytest.FixtureRequest) -> ModelBackend:
    return FakeModel("Blue is a colour people like a lot, truly.")


def _llamacpp(request: pytest.FixtureRequest) -> ModelBackend:
    backend: ModelBackend = request.getfixturevalue("llama_backend")
    return backend


@pytest.fixture(scope="module")
def tiny_hf_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny-hf"))


def _transformers(request: pytest.FixtureRequest) -> ModelBackend:
    from cerebra.models.hf import TransformersBackend

    folder = request.getfixturevalue("tiny_hf_dir")
    return TransformersBackend(folder, name="tiny", max_context=256, n_threads=1)


def _openai(request: pytest.FixtureRequest) -> ModelBackend:
    url = request.getfixturevalue("openai_url")
    return OpenAIHTTPBackend(url, "gpt-4o-mini", api_key=OPENAI_KEY)


def _anthropic(request: pytest.FixtureRequest) -> ModelBackend:
    url = request.getfixturevalue("anthropic_url")
    return AnthropicBackend("claude-x", base_url=url, api_key=ANTHROPIC_KEY)


def _router(_: pytest.FixtureRequest) -> ModelBackend:
    return Router([FakeModel("alpha says hi", name="a"), FakeModel("beta says hi", name="b")])


def _fallback(_: pytest.FixtureRequest) -> ModelBackend:
    down = Failing("down", BackendError("503 upstream", retryable=False))
    return FallbackBackend([down, FakeModel("second in the chain answers", name="up")])


def _member(_: pytest.FixtureRequest) -> ModelBackend:
    registry = ModelRegistry()
    registry.add(FakeModel("a registry member answers"), name="m")
    return registry.member("m")


def _wrapper(_: pytest.FixtureRequest) -> ModelBackend:
    return WrapperBackend(FakeModel("wrapped answer here"))


def _cached(_: pytest.FixtureRequest) -> ModelBackend:
    return CachedBackend(FakeModel("cached answer here"))


def _metered(_: pytest.FixtureRequest) -> ModelBackend:
    return MeteredBackend(FakeModel("metered answer here"), Metrics())


def _queued(_: pytest.FixtureRequest) -> ModelBackend:
    return QueuedBackend(FakeModel("queued answer here"), queue_size=2, timeout_s=60)


FACTORIES: dict[str, Callable[[pytest.FixtureRequest], ModelBackend]] = {
    "fake": _fake,
    "llamacpp": _llamacpp,
    "transformers": _transformers,
    "openai": _openai,
    "anthropic": _anthropic,
    "router": _router,
    "fallback": _fallback,
    "cache": _cached,
    "metered": _metered,
    "queued": _queued,
    "member": _member,
    "wrapper": _wrapper,
}


@pytest.fixture(
    params=[pytest.param(n, marks=pytest.mark.slow) if n == "llamacpp" else n for n in FACTORIES]
)
def backend(request: pytest.FixtureRequest) -> Iterator[ModelBackend]:
    made = FACTORIES[request.param](request)
    yield made
    closer = getattr(made, "close", None)
    if callable(closer) and request.param != "llamacpp":  # the GGUF is session-shared
        closer()


def _deterministic(backend: ModelBackend) -> bool:
    return not isinstance(backend, Router)  # a router may pick another arm each time


def test_shape(backend: ModelBackend) -> None:
    assert isinstance(backend, ModelBackend)
    assert backend.name
    caps = backend.capabilities
    assert caps.max_context > 0 and isinstance(caps.streaming, bool)
    assert caps.cost_per_input_token >= 0 and caps.cost_per_output_token >= 0
    assert 0 < backend.count_tokens("one two three") <= backend.count_tokens("one two three " * 10)


def test_generate(backend: ModelBackend) -> None:
    gen = backend.generate(REQUEST)
    assert gen.text.strip()
    assert gen.usage.prompt_tokens > 0
    assert 0 < gen.usage.completion_tokens <= REQUEST.max_tokens
    assert gen.finish_reason in ("stop", "length")
    assert gen.model


def test_stream_ends_with_usage_and_matches_generate(backend: ModelBackend) -> None:
    chunks: list[StreamChunk] = list(backend.stream(REQUEST))
    assert chunks and chunks[-1].finish_reason in ("stop", "length")
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert all(c.finish_reason is None for c in chunks[:-1])
    assert all(c.routing is None for c in chunks[:-1])  # routing comes on the last chunk only
    text = "".join(c.text for c in chunks)
    if _deterministic(backend):
        assert text.strip() == backend.generate(REQUEST).text.strip()


def test_async_pair_agrees(backend: ModelBackend) -> None:
    async def run() -> tuple[Any, list[StreamChunk]]:
        gen = await backend.agenerate(REQUEST)
        chunks = [c async for c in backend.astream(REQUEST)]
        return gen, chunks

    gen, chunks = asyncio.run(run())
    assert gen.text.strip() and chunks[-1].usage is not None
    if _deterministic(backend):
        assert gen.text.strip() == backend.generate(REQUEST).text.strip()
        assert "".join(c.text for c in chunks).strip() == gen.text.strip()


def test_routing_is_data_on_the_answer(backend: ModelBackend) -> None:
    """Whatever chose the backend (a router, a fallback chain) says so on the answer: the
    one that served and every attempt; a plain backend or wrapper leaves it empty."""
    gen = backend.generate(REQUEST)
    last = list(backend.stream(REQUEST))[-1]
    if not isinstance(backend, Router | FallbackBackend):
        assert gen.routing is None and last.routing is None
        return
    for routing in (gen.routing, last.routing):
        assert routing is not None and routing.served_by and routing.attempts
        assert routing.attempts[-1].ok and routing.attempts[-1].backend == routing.served_by
        assert all(not a.ok for a in routing.attempts[:-1])
    assert (gen.routing.decision_id is not None) == isinstance(backend, Router)


def test_probe_reports(backend: ModelBackend) -> None:
    result = backend.probe()
    assert result.ok and result.latency_ms >= 0


def test_raw_prompt(backend: ModelBackend, tmp_path: Path) -> None:
    gen = backend.generate(
        GenerationRequest(prompt="Monday, Tuesday,", max_tokens=4, temperature=0.0)
    )
    assert gen.text and gen.usage.completion_tokens <= 4

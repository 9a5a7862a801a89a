"""The Router over the real HTTP backends and fake upstreams: each injected fault (timeout,
429 with Retry-After, 500, malformed JSON, a cut connection or stream) is retried or falls
back to the next backend, across protocols; when every backend fails the caller gets one
clean BackendError naming each failure."""

from __future__ import annotations

from typing import Any

import pytest

from cerebra.errors import BackendError
from cerebra.models.anthropic import AnthropicBackend
from cerebra.models.base import GenerationRequest, Message, ModelBackend
from cerebra.models.openai_http import OpenAIHTTPBackend
from cerebra.routing import CooldownPolicy, RetryPolicy, RoutePolicy, Router
from tests.fakes.faults import FaultPlan
from tests.models.remote.conftest import ANTHROPIC_KEY, OPENAI_KEY

REQ = GenerationRequest(messages=(Message("user", "route me"),), max_tokens=10)
FAULTS = ["timeout", "429", "500", "malformed_json", "broken_stream"]
STREAM_FAULTS = ["timeout", "429", "500", "malformed_json"]  # before the first text


def make_router(openai_url: str, anthropic_url: str, *, attempts: int = 2,
                primary_key: str = OPENAI_KEY) -> Router:
    backends: list[ModelBackend] = [
        OpenAIHTTPBackend(openai_url, "primary", api_key=primary_key, timeout_s=0.5),
        OpenAIHTTPBackend(openai_url, "secondary", api_key=OPENAI_KEY, timeout_s=0.5),
        AnthropicBackend("claude-backup", api_key=ANTHROPIC_KEY, base_url=anthropic_url,
                         timeout_s=0.5),
    ]
    return Router(backends,
                  policy=RoutePolicy("fixed", {"arm": "primary"},
                                     fallback=("secondary", "claude-backup")),
                  retry=RetryPolicy(max_attempts=attempts, base_delay_s=0.01, jitter=0.0),
                  cooldown=CooldownPolicy(failure_threshold=5))


def add(plan: FaultPlan, kind: Any, model: str, times: int = 1) -> None:
    plan.add(kind, model=model, times=times, retry_after=0.05, sleep_s=2.0, after_chunks=2)


@pytest.fixture
def urls(openai_url: str, anthropic_url: str) -> tuple[str, str]:
    return openai_url, anthropic_url


@pytest.mark.parametrize("kind", FAULTS)
def test_one_fault_is_retried_on_the_same_backend(urls: tuple[str, str],
                                                  openai_plan: FaultPlan, kind: Any) -> None:
    router = make_router(*urls)
    add(openai_plan, kind, "primary")
    routed = router.route(REQ)
    d = routed.decision
    assert routed.generation.text == "primary says: route me" and d.served_by == "primary"
    assert [(a.backend, a.ok) for a in d.attempts] == [("primary", False), ("primary", True)]
    if kind == "429":
        assert d.attempts[1].waited_s == pytest.approx(0.05)  # Retry-After honoured


@pytest.mark.parametrize("kind", FAULTS)
async def test_a_persistent_fault_falls_back_async(urls: tuple[str, str],
                                                   openai_plan: FaultPlan, kind: Any) -> None:
    router = make_router(*urls)
    add(openai_plan, kind, "primary", times=2)
    routed = await router.aroute(REQ)
    assert routed.generation.text == "secondary says: route me"
    assert [a.backend for a in routed.decision.attempts] == ["primary", "primary", "secondary"]
    assert openai_plan.pending() == 0


def test_a_long_retry_after_falls_back_at_once_and_cools_the_backend(
        urls: tuple[str, str], openai_plan: FaultPlan) -> None:
    router = make_router(*urls)
    openai_plan.add("429", model="primary", retry_after=60)
    routed = router.route(REQ)
    assert routed.decision.served_by == "secondary"
    assert [a.backend for a in routed.decision.attempts] == ["primary", "secondary"]
    assert router.health.is_cooling("primary")
    assert router.route(REQ).decision.served_by == "secondary"  # out of rotation for now


def test_bad_credentials_fall_back_without_a_retry(urls: tuple[str, str]) -> None:
    router = make_router(*urls, primary_key="wrong")
    routed = router.route(REQ)
    assert [a.backend for a in routed.decision.attempts] == ["primary", "secondary"]
    assert "HTTP 401" in routed.decision.attempts[0].error


def test_fallback_crosses_protocols(urls: tuple[str, str], openai_plan: FaultPlan) -> None:
    router = make_router(*urls, attempts=1)
    add(openai_plan, "500", "primary")
    add(openai_plan, "timeout", "secondary")
    routed = router.route(REQ)
    assert routed.generation.text == "claude-backup says: route me"
    assert routed.decision.served_by == "claude-backup" and routed.decision.prompt_tokens == 2


@pytest.mark.parametrize("kind", STREAM_FAULTS)
def test_streams_fall_back_before_the_first_chunk(urls: tuple[str, str],
                                                  openai_plan: FaultPlan, kind: Any) -> None:
    router = make_router(*urls, attempts=1)
    add(openai_plan, kind, "primary")
    chunks = list(router.stream(REQ))
    assert "".join(c.text for c in chunks) == "secondary says: route me"
    routing = chunks[-1].routing
    assert routing is not None and routing.served_by == "secondary"
    assert [a.backend for a in routing.attempts] == ["primary", "secondary"]
    decision = router.get_decision(routing.decision_id or "")
    assert decision is not None and decision.served_by == "secondary"
    assert decision.completion_tokens == 4


@pytest.mark.parametrize("kind", STREAM_FAULTS)
async def test_async_streams_retry_before_the_first_chunk(
        urls: tuple[str, str], openai_plan: FaultPlan, kind: Any) -> None:
    router = make_router(*urls)
    add(openai_plan, kind, "primary")
    chunks = [c async for c in router.astream(REQ)]
    routing = chunks[-1].routing
    assert "".join(c.text for c in chunks) == "primary says: route me"
    assert routing is not None and routing.served_by == "primary"
    assert [(a.backend, a.ok) for a in routing.attempts] == [("primary", False), ("primary", True)]
    decision = router.get_decision(routing.decision_id or "")
    assert decision is not None and len(decision.attempts) == 2


@pytest.mark.parametrize("kind", ["broken_stream", "truncated_stream"])
def test_a_stream_broken_after_text_ends_with_a_clean_error(
        urls: tuple[str, str], openai_plan: FaultPlan, kind: Any) -> None:
    router = make_router(*urls)
    openai_plan.add(kind, model="primary", after_chunks=3)
    got: list[str] = []
    with pytest.raises(BackendError, match="broke after 2 chunks") as info:
        for chunk in router.stream(REQ):
            got.append(chunk.text)
    assert got == ["primary", " says:"]  # no silent switch to another backend mid-answer
    assert not info.value.retryable and not router.decisions()[0].ok


def test_when_every_backend_fails_the_error_names_each(
        urls: tuple[str, str], openai_plan: FaultPlan, anthropic_plan: FaultPlan) -> None:
    router = make_router(*urls, attempts=1)
    add(openai_plan, "429", "primary")
    add(openai_plan, "500", "secondary")
    add(anthropic_plan, "529", "claude-backup")
    with pytest.raises(BackendError) as info:
        router.route(REQ)
    err = info.value
    assert err.message.startswith("all backends failed")
    for part in ("primary", "HTTP 429", "secondary", "HTTP 500", "claude-backup", "HTTP 529"):
        assert part in err.message
    assert err.retryable and err.retry_after == pytest.approx(0.05)
    assert err.status_code == 502 and router.decisions()[0].ok is False


async def test_async_all_fail_with_malformed_and_cut_replies(
        urls: tuple[str, str], openai_plan: FaultPlan, anthropic_plan: FaultPlan) -> None:
    router = make_router(*urls, attempts=1)
    add(openai_plan, "malformed_json", "primary")
    add(openai_plan, "broken_stream", "secondary")
    add(anthropic_plan, "timeout", "claude-backup")
    with pytest.raises(BackendError) as info:
        await router.aroute(REQ)
    for part in ("malformed", "broken mid-reply", "timed out"):
        assert part in info.value.message

"""Fake upstream servers for the remote-backend tests (real sockets on 127.0.0.1), started
once per session; each test starts with no queued faults and an empty request log."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.anthropic_server import make_anthropic_app
from tests.fakes.faults import FaultPlan
from tests.fakes.openai_server import make_openai_app
from tests.helpers import running_server

OPENAI_KEY = "sk-test"
ANTHROPIC_KEY = "ak-test"


@pytest.fixture(scope="session")
def openai_upstream() -> Iterator[tuple[str, FaultPlan]]:
    plan = FaultPlan()
    with running_server(make_openai_app(plan, api_key=OPENAI_KEY)) as base:
        yield f"{base}/v1", plan


@pytest.fixture(scope="session")
def anthropic_upstream() -> Iterator[tuple[str, FaultPlan]]:
    plan = FaultPlan()
    with running_server(make_anthropic_app(plan, api_key=ANTHROPIC_KEY)) as base:
        yield base, plan


@pytest.fixture
def openai_url(openai_upstream: tuple[str, FaultPlan]) -> Iterator[str]:
    url, plan = openai_upstream
    plan.clear()
    yield url
    plan.clear()


@pytest.fixture
def openai_plan(openai_upstream: tuple[str, FaultPlan], openai_url: str) -> FaultPlan:
    return openai_upstream[1]


@pytest.fixture
def anthropic_url(anthropic_upstream: tuple[str, FaultPlan]) -> Iterator[str]:
    url, plan = anthropic_upstream
    plan.clear()
    yield url
    plan.clear()


@pytest.fixture
def anthropic_plan(anthropic_upstream: tuple[str, FaultPlan], anthropic_url: str) -> FaultPlan:
    return anthropic_upstream[1]

"""The trace id on the lines of a request before its answer: a sampled request's id is known
when its root span starts, so a line the model writes while generating carries it; an
unsampled request's id is made as it finishes, so such a line carries the tenant only."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cerebra.brain import Brain
from cerebra.config import Settings
from cerebra.models.base import GenerationRequest
from cerebra.server.app import create_app
from cerebra.testing import FakeModel
from tests.observability.logs_world import root_at

log = logging.getLogger("tests.model")


def _first_token(request: GenerationRequest, i: int) -> None:
    if i == 0:
        log.warning("generating the answer")


@pytest.fixture(params=[1.0, 0.0], ids=["sampled", "unsampled"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(home=tmp_path / "home", memory={"embedder": "fake"},
                        health={"interval_s": 0}, tracing={"sample_rate": request.param})
    brain = Brain.from_settings(settings, model=FakeModel(before_token=_first_token))
    try:
        with root_at(logging.INFO), TestClient(create_app(settings, brain=brain)) as client:
            yield client
    finally:
        brain.close()


def test_a_line_written_while_generating(client: TestClient) -> None:
    answer = client.post("/api/llm/query", json={"prompt": "hello"}).json()
    lines = client.get("/logs", params={"logger": "tests.model"}).json()["logs"]
    assert [line["event"] for line in lines] == ["generating the answer"]
    assert lines[0]["tenant_id"] == "default"
    sampled = client.app.state.brain.settings.tracing.sample_rate == 1.0  # type: ignore[attr-defined]
    assert lines[0]["trace_id"] == (answer["trace_id"] if sampled else None)

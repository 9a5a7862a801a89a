"""The machinery of the settings-effects suite: `Env` (sets CEREBRA_* variables and builds what
they configure), the `effect` registry, shared fixtures and helpers. Effect checks live in
the other modules of this package, one per settings group or two; `tests/test_settings_effects.py`
imports them all and runs every documented setting's check."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cerebra.brain import Brain
from cerebra.config import Settings, get_settings
from cerebra.models.base import GenerationRequest
from cerebra.testing import FakeModel
from tests.helpers import running_redis

WAIT = 30.0  # a safety net for a broken implementation, never a synchronisation
BASE = {  # the fast path; a check may override any of these
    "CEREBRA_MODEL__FAKE": "true",
    "CEREBRA_MEMORY__EMBEDDER": "fake",
    "CEREBRA_HEALTH__INTERVAL_S": "0",
}


class Env:
    """Sets CEREBRA_* variables (over BASE) and builds what they configure; closes it all."""

    def __init__(self, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
                 tmp_path: Path) -> None:
        self.request = request
        self.monkeypatch = monkeypatch
        self.tmp = tmp_path
        self._brains: list[Brain] = []
        self.set(**BASE)

    def set(self, **values: str) -> Settings:
        for key, value in values.items():
            self.monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        return get_settings()

    def unset(self, *keys: str) -> Settings:
        for key in keys:
            self.monkeypatch.delenv(key, raising=False)
        get_settings.cache_clear()
        return get_settings()

    def brain(self, **values: str) -> Brain:
        brain = Brain.from_settings(self.set(**values))
        self._brains.append(brain)
        return brain

    def close(self) -> None:
        for brain in self._brains:
            brain.close()


@pytest.fixture
def env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> Iterator[Env]:
    e = Env(request, monkeypatch, tmp_path)
    yield e
    e.close()


def unwrap(backend: Any, cls: type) -> Any:
    """The `cls` layer under wrappers (queue, cache, metering): each keeps its `inner`."""
    for _ in range(16):
        if isinstance(backend, cls):
            return backend
        backend = getattr(backend, "inner", None)
    raise AssertionError(f"no {cls.__name__} under the wrappers")


def fake_of(brain: Brain, name: str | None = None) -> FakeModel:
    return unwrap(brain.models.get(name), FakeModel)  # type: ignore[no-any-return]


def text_of(request: GenerationRequest) -> str:
    if request.prompt is not None:
        return request.prompt
    return " ".join(m.content for m in request.messages if isinstance(m.content, str))


def catalog_json(*entries: dict[str, Any]) -> str:
    return json.dumps({"models": list(entries)})


EFFECTS: dict[str, Callable[[Env], None]] = {}


def effect(name: str) -> Callable[[Callable[[Env], None]], Callable[[Env], None]]:
    def register(fn: Callable[[Env], None]) -> Callable[[Env], None]:
        EFFECTS[name] = fn
        return fn

    return register


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = [(logging.getLogger(n), logging.getLogger(n).handlers[:], logging.getLogger(n).level,
              logging.getLogger(n).propagate)
             for n in ("", "alembic", "uvicorn", "uvicorn.error", "uvicorn.access")]
    yield
    for logger, handlers, level, propagate in saved:
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate
    assert root is logging.getLogger()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[str]:
    with running_redis(tmp_path) as url:
        yield url

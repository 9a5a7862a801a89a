"""A Brain over fakes (FakeModel, FakeEmbedder) on a fresh SQLite home, for the path tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cerebra.brain import Brain
from cerebra.config import Settings
from cerebra.testing import FakeEmbedder, FakeModel


@pytest.fixture
def model() -> FakeModel:
    return FakeModel("Teal, I remember.", name="fake")


@pytest.fixture
def brain(model: FakeModel) -> Iterator[Brain]:
    b = Brain.from_settings(Settings(), model=model, embedder=FakeEmbedder())
    yield b
    b.close()

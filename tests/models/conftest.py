"""Fixtures for the model-layer tests: a real redis-server on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers import running_redis


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throw-away redis-server (Debian package redis-server) for the session."""
    with running_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url

"""Failing test doubles for router tests: errors on some or every call, broken streams."""

from __future__ import annotations

from collections.abc import Iterator

from cerebra.errors import BackendError
from cerebra.models.base import Generation, GenerationRequest, StreamChunk
from cerebra.testing import FakeModel


class Failing(FakeModel):
    """A FakeModel that raises `error` on its first `failures` calls (-1: on every call)."""

    def __init__(self, name: str, error: Exception, failures: int = -1, **kwargs: object) -> None:
        super().__init__(f"answer from {name}", name=name, **kwargs)  # type: ignore[arg-type]
        self.error = error
        self.failures = failures
        self.attempts = 0

    def _maybe_fail(self) -> None:
        self.attempts += 1
        if self.failures < 0 or self.attempts <= self.failures:
            raise self.error

    def generate(self, request: GenerationRequest) -> Generation:
        self._maybe_fail()
        return super().generate(request)

    def stream(self, request: GenerationRequest) -> Iterator[StreamChunk]:
        self._maybe_fail()
        yield from super().stream(request)


class BrokenStream(FakeModel):
    """Streams one chunk, then fails."""

    def stream(self, request: GenerationRequest) -> Iterator[StreamChunk]:
        yield StreamChunk(text="partial ")
        raise BackendError("connection reset mid-stream")


def rate_limited(retry_after: float) -> BackendError:
    return BackendError("429 Too Many Requests", retryable=True, retry_after=retry_after)

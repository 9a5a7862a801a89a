"""BatchingEmbedder: concurrent calls share model passes, each gets its own rows in order,
a lone call runs at once, and a failed pass fails every call it carried."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import numpy as np
import pytest

from cerebra.memory.embed_batching import BatchingEmbedder
from cerebra.testing import FakeEmbedder


class HeldEmbedder(FakeEmbedder):
    """Its first pass waits for `release`, so the calls made meanwhile queue behind it."""

    def __init__(self, fail_after_first: bool = False) -> None:
        super().__init__()
        self.started = threading.Event()
        self.release = threading.Event()
        self.batches: list[list[str]] = []
        self.fail_after_first = fail_after_first

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.batches.append(list(texts))
        if len(self.batches) == 1:
            self.started.set()
            self.release.wait()
        elif self.fail_after_first:
            raise RuntimeError("the model fell over")
        return super().embed(texts)


def until(condition: Callable[[], bool]) -> None:
    """Poll for a state another thread reaches (the bound is only against a hang)."""
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        threading.Event().wait(0.001)


def test_a_lone_call_is_one_pass_with_its_own_rows() -> None:
    inner = FakeEmbedder()
    batching = BatchingEmbedder(inner)
    texts = ["the heron", "the mill", "the heron"]
    got = batching.embed(texts)
    assert np.allclose(got, inner.embed(texts))
    assert batching.passes == 1 and batching.model_id == inner.model_id
    assert batching.embed([]).shape == (0, inner.dimension)


def test_calls_during_a_pass_share_the_next_one() -> None:
    inner = HeldEmbedder()
    batching = BatchingEmbedder(inner)
    results: dict[int, np.ndarray] = {}

    def call(n: int) -> None:
        results[n] = batching.embed([f"text number {n}", f"second text {n}"])

    first = threading.Thread(target=call, args=(0,))
    first.start()
    assert inner.started.wait(30)
    others = [threading.Thread(target=call, args=(n,)) for n in range(1, 6)]
    for t in others:
        t.start()
    until(lambda: sum(len(c.texts) for c in batching._queue) == 10)  # five queued behind it
    inner.release.set()
    for t in [first, *others]:
        t.join(30)
    assert len(inner.batches) == 2  # the held pass, then one for all five waiting calls
    assert sorted(inner.batches[1]) == sorted(
        t for n in range(1, 6) for t in (f"text number {n}", f"second text {n}"))
    reference = FakeEmbedder()
    for n in range(6):  # each call its own two rows, in its own order
        assert np.allclose(results[n],
                           reference.embed([f"text number {n}", f"second text {n}"]))


def test_max_texts_splits_the_queue_into_passes() -> None:
    inner = HeldEmbedder()
    batching = BatchingEmbedder(inner, max_texts=4)
    threads = [threading.Thread(target=batching.embed, args=(["held"],))]
    threads[0].start()
    assert inner.started.wait(30)
    threads += [threading.Thread(target=batching.embed, args=([f"a{n}", f"b{n}"],))
                for n in range(4)]
    for t in threads[1:]:
        t.start()
    until(lambda: len(batching._queue) == 4)
    inner.release.set()
    for t in threads:
        t.join(30)
    assert [len(b) for b in inner.batches] == [1, 4, 4]


def test_a_failed_pass_fails_every_call_it_carried() -> None:
    inner = HeldEmbedder(fail_after_first=True)
    batching = BatchingEmbedder(inner)
    errors: list[BaseException] = []

    def call(text: str) -> None:
        try:
            batching.embed([text])
        except RuntimeError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call, args=("held",))]
    threads[0].start()
    assert inner.started.wait(30)
    threads += [threading.Thread(target=call, args=(f"t{n}",)) for n in range(3)]
    for t in threads[1:]:
        t.start()
    until(lambda: len(batching._queue) == 3)
    inner.release.set()
    for t in threads:
        t.join(30)
    assert len(errors) == 3 and all("fell over" in str(e) for e in errors)
    with pytest.raises(RuntimeError):  # and the next lone call still runs (and fails) alone
        batching.embed(["after"])

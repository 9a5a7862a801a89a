"""A llama.cpp model swapped out under load is closed — its memory released — once the last
of the requests that leased it is done, and not before: 16 concurrent streams that started
on it all finish. Runs the real GGUF in a child process (cerebra.isolated), which reports
the figures back."""

from __future__ import annotations

import gc
import threading
from pathlib import Path
from typing import Any

import pytest

from cerebra.isolated import run_in_child
from cerebra.models.base import GenerationRequest, Message
from cerebra.models.wrapper import WrapperBackend

STREAMS = 16


class CloseSpy(WrapperBackend):
    """Counts close() calls and notes how many streams had finished when it was closed."""

    def __init__(self, inner: Any, finished: list[str]) -> None:
        super().__init__(inner)
        self.finished = finished
        self.closes: list[int] = []

    def close(self) -> None:
        self.closes.append(len(self.finished))
        super().close()


def swap_under_streams(gguf: str, sha256: str, streams: int) -> dict[str, Any]:
    """In the child: serve `streams` concurrent streams on model A, swap in model B while they
    run, and measure the process's resident memory around the close of A."""
    import psutil

    from cerebra.models.llamacpp import LlamaCppBackend
    from cerebra.models.queued import QueuedBackend
    from cerebra.models.registry import ModelRegistry
    from cerebra.observability.metrics import MeteredBackend, Metrics

    process = psutil.Process()

    def load(finished: list[str]) -> tuple[MeteredBackend, CloseSpy]:
        spy = CloseSpy(LlamaCppBackend(Path(gguf), name="gemma", expected_sha256=sha256,
                                       n_ctx=1024, n_threads=2), finished)
        return MeteredBackend(QueuedBackend(spy, queue_size=streams), Metrics()), spy

    rss_start = process.memory_info().rss
    finished: list[str] = []
    registry = ModelRegistry()
    old, old_spy = load(finished)
    rss_one = process.memory_info().rss
    registry.add(old, name="gemma")
    request = GenerationRequest(messages=(Message("user", "Name a colour."),), max_tokens=6,
                                temperature=0.0)
    results: list[dict[str, Any]] = [{} for _ in range(streams)]
    go = threading.Event()

    def consume(i: int) -> None:
        with registry.lease("gemma") as backend:
            go.wait(60)
            chunks = list(backend.stream(request))
            results[i] = {"served_by_old": backend is old, "chunks": len(chunks),
                          "text": "".join(c.text for c in chunks),
                          "finish": chunks[-1].finish_reason if chunks else None}
            finished.append(str(i))

    threads = [threading.Thread(target=consume, args=(i,)) for i in range(streams)]
    for t in threads:
        t.start()
    while registry.status()[0].in_flight < streams:  # every stream holds the old model
        threading.Event().wait(0.01)
    go.set()
    new, new_spy = load([])
    rss_both = process.memory_info().rss
    registry.replace("gemma", new, close=True)
    closes_at_swap = len(old_spy.closes)
    with registry.lease("gemma") as after_swap:
        new_requests_on_new = after_swap is new
    for t in threads:
        t.join(300)
    gc.collect()
    rss_after = process.memory_info().rss
    answer = new.generate(request)  # the new model serves on
    return {
        "rss_start": rss_start, "rss_one": rss_one, "rss_both": rss_both,
        "rss_after": rss_after,
        "closes_at_swap": closes_at_swap, "closes": old_spy.closes,
        "new_closes": len(new_spy.closes), "results": results,
        "new_requests_on_new": new_requests_on_new, "new_answer": answer.text,
        "old_in_flight_after": [s.in_flight for s in registry.status()],
    }


@pytest.mark.slow
def test_swapped_out_model_is_closed_after_its_last_stream(gguf_path: Path,
                                                           gguf_sha256: str) -> None:
    got = run_in_child(swap_under_streams, str(gguf_path), gguf_sha256, STREAMS, timeout=600)
    results = got["results"]
    assert len(results) == STREAMS
    for r in results:  # every stream that started on the old model finished on it
        assert r["served_by_old"] and r["finish"] in ("stop", "length"), r
        assert r["text"].strip() and r["chunks"] >= 2, r
    assert got["closes_at_swap"] == 0  # not closed under the streams …
    assert got["closes"] == [STREAMS]  # … but once, when the last of them returned its lease
    assert got["new_closes"] == 0 and got["new_requests_on_new"] and got["new_answer"].strip()
    second_model = got["rss_both"] - got["rss_one"]  # what loading one more model costs
    released = got["rss_both"] - got["rss_after"]
    # the old model's weights and context are given back: RSS falls by most of a model
    assert second_model > 50e6 and released > 0.5 * second_model, got

"""Brain's pool for the blocking parts of memory-on requests (cerebra.offload): calls run
on its own threads (as many as cores, at least two), in a copy of the caller's context,
their errors reach the caller, nothing starts before first use, and close waits for what
runs; a memory-on Brain recalls and stores through it."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from pathlib import Path

import pytest

from cerebra.brain import Brain
from cerebra.config import Settings
from cerebra.offload import Offload
from cerebra.testing import FakeEmbedder, FakeModel

WHO: contextvars.ContextVar[str] = contextvars.ContextVar("who", default="nobody")


def test_calls_run_on_the_pool_in_the_callers_context() -> None:
    pool = Offload(workers=1)
    assert pool.workers == 2 and pool._pool is None  # at least two; built on first use

    async def main() -> tuple[str, str]:
        WHO.set("alice")
        return await pool.run(lambda: (threading.current_thread().name, WHO.get()))

    thread, who = asyncio.run(main())
    assert thread.startswith("cerebra-memory") and who == "alice"
    pool.close()
    assert pool._pool is None


def test_an_error_reaches_the_caller_and_the_pool_goes_on() -> None:
    pool = Offload()

    def boom() -> None:
        raise ValueError("nope")

    async def main() -> int:
        with pytest.raises(ValueError, match="nope"):
            await pool.run(boom)
        return await pool.run(int, "7")

    assert asyncio.run(main()) == 7
    pool.close()


def test_close_waits_for_what_runs() -> None:
    pool = Offload()
    started, release, done = threading.Event(), threading.Event(), []

    def slow() -> None:
        started.set()
        release.wait(30)
        done.append(1)

    async def main() -> None:
        task = asyncio.ensure_future(pool.run(slow))
        await asyncio.to_thread(started.wait, 30)
        closer = threading.Thread(target=pool.close)
        closer.start()
        release.set()
        await task
        closer.join(30)

    asyncio.run(main())
    assert done == [1]


def test_a_memory_on_brain_recalls_and_stores_on_the_pool(tmp_path: Path) -> None:
    brain = Brain.from_settings(Settings(home=tmp_path), model=FakeModel(reply="Noted."),
                                embedder=FakeEmbedder())
    try:
        names: list[str] = []
        real = brain.memory.add

        def add(*args, **kwargs):  # type: ignore[no-untyped-def]
            names.append(threading.current_thread().name)
            return real(*args, **kwargs)

        brain.memory.add = add  # type: ignore[method-assign]
        answer = asyncio.run(brain.aask("Remember that the heron nests by the mill.",
                                        user_id="u"))
        assert answer.stored_memory_id is not None
        assert names and names[0].startswith("cerebra-memory")  # stored on the pool
        assert brain.offload._pool is not None  # the recall ran there too
    finally:
        brain.close()
    assert brain.offload._pool is None

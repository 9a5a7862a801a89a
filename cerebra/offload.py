"""Where Brain runs the blocking parts of a memory-on request (the recall before the model,
storing the exchange after it): a pool of as many threads as the machine has cores, built
on first use, instead of asyncio's default executor (cores + 4 threads).

Those parts are mostly Python holding the GIL, with SQLite and the embedder releasing it
for a while. Under concurrent load more threads than cores only take turns at the GIL
(context switches, cold caches) and split each embedder batch into smaller ones: measured
in-process with 32 concurrent requests over a 10k-memory scope, 2 threads served 60.5
requests/s against 55 with the default 6 on a 2-core machine. Like `asyncio.to_thread`,
the call runs in a copy of the caller's context (contextvars). `submit` hands a call to the
pool without awaiting it: MemoryStore embeds a search's query that way, on a pool of its
own, while the full-text half runs (cerebra.memory.query_vectors).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class Offload:
    """A thread pool for blocking calls from the event loop (see the module)."""

    def __init__(self, workers: int | None = None, *, name: str = "cerebra-memory") -> None:
        self.workers = max(2, workers or os.cpu_count() or 2)
        self.name = name  # its threads' name prefix
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix=self.name)
            return self._pool

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """`fn(*args, **kwargs)` on the pool, not awaited: its future."""
        return self._executor().submit(fn, *args, **kwargs)

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """`fn(*args, **kwargs)` on the pool, awaited."""
        call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._executor(), call)

    def close(self) -> None:
        """Wait for what runs, then stop the threads; a later call starts a new pool."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

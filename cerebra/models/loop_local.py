"""One value per running event loop (an async client, a connection pool), made on first use
there; the entries of loops that have closed are dropped as new ones are made, since what
they held died with their loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def for_running_loop(cache: dict[asyncio.AbstractEventLoop, T], lock: threading.Lock,
                     make: Callable[[], T]) -> T:
    """The running loop's value in `cache`, made with `make` (under `lock`) if it has none."""
    loop = asyncio.get_running_loop()
    value = cache.get(loop)
    if value is None:
        with lock:
            for old in [lp for lp in cache if lp.is_closed()]:
                del cache[old]
            value = cache[loop] = make()
    return value

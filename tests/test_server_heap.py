"""The start-up heap freeze (cerebra.server.heap): garbage that start-up left is collected
first, not frozen; what lives is frozen; objects made afterwards are collected as before."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from cerebra.server.heap import freeze_startup_heap


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def _cycle() -> weakref.ref[Node]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


@pytest.fixture
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()


def test_startup_garbage_is_collected_and_the_living_heap_frozen(unfrozen: None) -> None:
    kept = Node()
    dead = _cycle()  # unreachable, but only the cyclic collector can free it
    frozen = freeze_startup_heap()
    assert dead() is None  # collected before the freeze, not kept forever
    # frozen objects freed since (another thread's, in a busy process) leave the count
    assert frozen >= gc.get_freeze_count() > 0
    assert not gc.is_tracked(kept) or kept not in gc.get_objects()  # out of the GC's walk
    later = _cycle()  # made while serving
    assert later() is not None
    gc.collect()
    assert later() is None

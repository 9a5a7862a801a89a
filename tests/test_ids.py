"""cerebra.ids: 32 hex digits, never repeated across calls, threads or a fork."""

from __future__ import annotations

import os
import re
import threading

import pytest

from cerebra.ids import new_id


def test_ids_are_128_bits_in_hex_and_distinct() -> None:
    ids = [new_id() for _ in range(5000)]  # more than one 4 KiB read
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_threads_never_share_an_id() -> None:
    seen: list[list[str]] = [[] for _ in range(8)]

    def take(slot: list[str]) -> None:
        slot.extend(new_id() for _ in range(2000))

    threads = [threading.Thread(target=take, args=(slot,)) for slot in seen]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for slot in seen for i in slot]
    assert len(set(every)) == len(every) == 16_000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_reuse_its_parents_unread_bytes() -> None:
    new_id()  # the parent holds a partly read buffer
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next ids
        os.close(read)
        os.write(write, "".join(new_id() for _ in range(4)).encode())
        os._exit(0)
    os.close(write)
    child = b""
    while chunk := os.read(read, 4096):
        child += chunk
    os.close(read)
    os.waitpid(pid, 0)
    parent = "".join(new_id() for _ in range(4))
    assert len(child) == 128 and child.decode() != parent

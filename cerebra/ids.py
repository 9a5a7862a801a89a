"""Fresh random identifiers (trace, completion, audit event and reservation ids) without a
system call each: 128 bits from the operating system's CSPRNG, read 4 KiB at a time.

A request used to make four `uuid4()` calls, each one `getrandom` system call — on a loaded
machine each system call is a point where the event loop can lose its CPU. The ids are as
unpredictable as `uuid4().hex` (same source, same 128 bits) and, like it, 32 hex digits. A
forked child never reuses its parent's unread bytes.
"""

from __future__ import annotations

import os
import threading

_CHUNK = 4096
_lock = threading.Lock()
_buffer = b""
_offset = 0
_hooked = False


def _forget() -> None:
    """In a forked child: the parent's unread bytes are the parent's."""
    global _buffer, _offset
    _buffer, _offset = b"", 0


def new_id() -> str:
    """32 hex digits of fresh randomness (128 bits), like `uuid.uuid4().hex` without the
    version bits."""
    global _buffer, _offset, _hooked
    with _lock:
        if _offset + 16 > len(_buffer):
            if not _hooked and hasattr(os, "register_at_fork"):
                os.register_at_fork(after_in_child=_forget)
                _hooked = True
            _buffer, _offset = os.urandom(_CHUNK), 0
        chunk = _buffer[_offset:_offset + 16]
        _offset += 16
    return chunk.hex()

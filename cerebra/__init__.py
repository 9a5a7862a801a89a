"""Cerebra: a self-hosted, self-improving runtime for large language models.

Importing this package builds nothing; the public names load on first use.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Brain": "cerebra.brain",
    "Settings": "cerebra.config",
    "get_settings": "cerebra.config",
    "MemoryStore": "cerebra.memory.store",
    "SQLiteBackend": "cerebra.memory.sqlite",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cerebra' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = ["__version__", *_LAZY]

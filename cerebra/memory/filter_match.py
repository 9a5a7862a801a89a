"""Evaluate a parsed metadata filter on one Memory in Python, as the SQL backends do.

Backends without SQL (cerebra.memory.tinydb_backend) test each candidate row with
`matches(node, memory)`; the semantics are those of the SQL that cerebra.memory.filters
compiles (tests/memory/test_conformance.py runs the same filter cases on every backend):

- a missing field, or a NULL column, fails every comparison, so `ne` and `nin` match it;
- a metadata value compares only with a value of its own JSON type (a string with a string,
  a number with a number; booleans only by equality);
- `contains`: an element of a metadata list (of the value's type), a substring of a
  metadata string or of a column's text; for `tags`, every operator means "carries the tag".
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from cerebra.memory.base import Memory
from cerebra.memory.filters import COLUMNS, Cond, Group, Node

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _sql_text(value: Any) -> str:
    """A column value as SQL renders it for instr()/strpos()."""
    return repr(value) if isinstance(value, float) else str(value)


def _column(memory: Memory, c: Cond) -> bool:
    value = getattr(memory, c.field)
    if value is None:
        return False
    if c.op == "contains":
        return str(c.value) in _sql_text(value)
    if _is_number(value) != _is_number(c.value):
        # SQL orders every number before every string; equality never holds across them
        if c.op == "eq":
            return False
        number_first = _is_number(value)
        return number_first if c.op in ("lt", "lte") else not number_first
    return _OPS[c.op](value, c.value)


def _metadata(memory: Memory, c: Cond) -> bool:
    if c.field not in memory.metadata:
        return False
    value, want = memory.metadata[c.field], c.value
    if c.op == "contains":
        if isinstance(value, list):
            return any(_same_type(v, want) and v == want for v in value)
        return isinstance(value, str) and str(want) in value
    if not _same_type(value, want):
        return False
    return _OPS[c.op](value, want)


def _same_type(value: Any, want: Any) -> bool:
    if isinstance(want, bool) or isinstance(value, bool):
        return isinstance(want, bool) and isinstance(value, bool)
    if isinstance(want, str):
        return isinstance(value, str)
    return _is_number(value)


def _cond(memory: Memory, c: Cond) -> bool:
    if c.op in ("in", "nin"):
        hit = any(_cond(memory, Cond(c.field, "eq", v)) for v in c.value)
        return hit if c.op == "in" else not hit
    if c.op == "ne":
        return not _cond(memory, Cond(c.field, "eq", c.value))
    if c.field == "tags":
        return str(c.value) in memory.tags
    if c.field in COLUMNS:
        return _column(memory, c)
    return _metadata(memory, c)


def matches(node: Node | None, memory: Memory) -> bool:
    """Whether `memory` passes the filter `node` (None: no filter, always)."""
    if node is None:
        return True
    if isinstance(node, Group):
        results = (matches(part, memory) for part in node.parts)
        return all(results) if node.kind == "AND" else any(results)
    return _cond(memory, node)

"""The memory row decoder (cerebra.memory.sqlvocab.memory_from_row): it fills the frozen
dataclass without its __init__, so it must give exactly what `Memory(...)` gives, every
field set, for SQLite's text JSON and PostgreSQL's decoded JSON alike."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from cerebra.memory.base import Memory
from cerebra.memory.sqlvocab import N_COLUMNS, memory_from_row

ROWS: list[tuple[Any, ...]] = [
    (7, "u-1", "Alice: I moved to Berlin", "acme", "alice", "agent", "s1", '["a", "b"]',
     '{"speaker": "Alice", "turn": 3}', 0.5, -0.25, "chat", 1.7e9, 1.7e9 + 5, None, 2),
    (8, "u-2", "text", "default", "", "", "", None, None, 1, 0, "api", 10, 11, 99.5, None),
    (9, "u-3", "x", "t", "u", "a", "s", ["tag"], {"k": [1, 2]}, "0.75", "0.1", "s",
     "12.5", "13", "14", "3", "indexed terms after the columns"),
]


@pytest.mark.parametrize("row", ROWS)
def test_a_decoded_row_equals_the_dataclass_built_through_its_init(row: tuple[Any, ...]) -> None:
    got = memory_from_row(row)
    tags, metadata = ({"7": ("a", "b"), "8": (), "9": ("tag",)}[str(row[0])],
                      {"7": {"speaker": "Alice", "turn": 3}, "8": {}, "9": {"k": [1, 2]}}[
                          str(row[0])])
    want = Memory(
        uid=row[1], text=row[2], tenant_id=row[3], user_id=row[4], agent_id=row[5],
        session_id=row[6], tags=tags, metadata=metadata, importance=float(row[9]),
        salience=float(row[10]), source=row[11], created_at=float(row[12]),
        updated_at=float(row[13]), expires_at=None if row[14] is None else float(row[14]),
        row_id=int(row[0]), version=int(row[15] or 1),
    )
    assert got == want
    assert set(vars(got)) == {f.name for f in dataclasses.fields(Memory)}
    assert type(got) is Memory and got.validity is None
    assert all(isinstance(getattr(got, k), float)
               for k in ("importance", "salience", "created_at", "updated_at"))
    assert len(row) in (N_COLUMNS, N_COLUMNS + 1)


def test_the_decoded_memory_stays_frozen_and_replaceable() -> None:
    got = memory_from_row(ROWS[0])
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.text = "changed"  # type: ignore[misc]
    again = dataclasses.replace(got, text="changed")
    assert again.text == "changed" and got.text == "Alice: I moved to Berlin"
    assert again.to_dict()["id"] == "u-1"


def test_pgvector_literal_is_each_float32_as_python_writes_it() -> None:
    import numpy as np

    from cerebra.memory.postgres import vector_literal

    rng = np.random.default_rng(3)
    for vector in (rng.standard_normal(384).astype(np.float32),
                   np.array([0.0, -0.0, 1e-38, -3.4e38, 0.1, 1 / 3], dtype=np.float32),
                   np.arange(5, dtype=np.float64) / 7):
        want = "[" + ",".join(repr(float(np.float32(x))) for x in vector) + "]"
        assert vector_literal(vector) == want
    assert vector_literal(np.array([0.1], dtype=np.float32)) == "[0.10000000149011612]"

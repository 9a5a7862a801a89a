"""SQL storage of passage vectors (`memory_passages`) for the SQLite and PostgreSQL backends.

Called inside the memory's own write transaction (cerebra.memory.sqlbase): a put writes
the passages of each long memory with its row, a text edit replaces them, a delete removes
them, and write-behind fills them with the memory's vector. Plain SQL that both dialects
run alike; vectors are float16 bytes (cerebra.memory.passages.encode).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy import Connection, text

from cerebra.memory.passages import decode, encode

_CHUNK = 500


def write_passages(
    conn: Connection, row_id: int, tenant_id: str, matrix: np.ndarray | None, model: str | None
) -> None:
    """Store (or replace) a memory's passage matrix; None clears it."""
    conn.execute(text("DELETE FROM memory_passages WHERE memory_id = :id"), {"id": row_id})
    if matrix is None or matrix.ndim != 2 or not matrix.shape[0]:
        return
    conn.execute(
        text("INSERT INTO memory_passages (memory_id, tenant_id, dim, count, model, vectors) "
             "VALUES (:id, :t, :dim, :n, :model, :v)"),
        {"id": row_id, "t": tenant_id, "dim": int(matrix.shape[1]), "n": int(matrix.shape[0]),
         "model": model, "v": encode(matrix)},
    )


def clear_passages(conn: Connection, row_ids: Sequence[int]) -> None:
    """Forget the passages of deleted memories."""
    ids = [int(i) for i in row_ids]
    for start in range(0, len(ids), _CHUNK):
        marks = ", ".join(str(i) for i in ids[start : start + _CHUNK])
        conn.execute(text(f"DELETE FROM memory_passages WHERE memory_id IN ({marks})"))


def read_passages(conn: Connection, row_ids: Sequence[int]) -> dict[int, np.ndarray]:
    """The passage matrices (float32) of those of `row_ids` that have passages."""
    out: dict[int, np.ndarray] = {}
    ids = [int(i) for i in row_ids]
    for start in range(0, len(ids), _CHUNK):
        marks = ", ".join(str(i) for i in ids[start : start + _CHUNK])
        rows = conn.execute(text(
            f"SELECT memory_id, dim, vectors FROM memory_passages WHERE memory_id IN ({marks})"))
        for r in rows:
            matrix = decode(r.vectors, int(r.dim))
            if matrix is not None:
                out[int(r.memory_id)] = matrix
    return out

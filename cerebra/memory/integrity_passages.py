"""The passage vectors' integrity check (cerebra.memory.integrity): each long memory that
has a vector has exactly the passages its text yields (cerebra.memory.passages), and no
passages belong to a short, vector-less or deleted memory.

Kinds: `missing_passages` (a long memory with a vector but no passages: written before
passages existed, or lost), `stale_passages` (their number or width differs from what its
text and the embedder give), `orphan_passages` (passages of a memory that is gone, short,
or still waiting for its own vector). A memory waiting for write-behind is not a problem:
its passages come with its vector. Repair re-embeds the passages from the text in one
transaction per batch and deletes orphans.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text

from cerebra.memory.embedders import Embedder
from cerebra.memory.integrity_report import IntegrityCheck, Problem
from cerebra.memory.passage_store import clear_passages, write_passages
from cerebra.memory.passages import embed_with_passages, passage_texts

_BATCH = 64


def passages_check(backend: Any) -> IntegrityCheck | None:
    """The check for a SQL backend that stores passages; None otherwise."""
    from cerebra.memory.sqlbase import SQLMemoryBackend

    if isinstance(backend, SQLMemoryBackend):
        return PassagesCheck()
    return None


class PassagesCheck:
    """Stored passages against the rows' texts."""

    name = "passages"

    def verify(self, backend: Any, dimension: int | None) -> tuple[int, list[Problem]]:
        problems: list[Problem] = []
        no_vector = backend._NO_VECTOR
        with backend.engine.connect() as conn:
            rows = conn.execute(text(
                f"SELECT id, uid, text, CASE WHEN {no_vector} THEN 0 ELSE 1 END AS vec "
                "FROM memories ORDER BY id")).all()
            stored = {int(r.memory_id): (int(r.count), int(r.dim)) for r in conn.execute(
                text("SELECT memory_id, count, dim FROM memory_passages"))}
        live = set()
        for r in rows:
            want = len(passage_texts(r.text)) if r.vec else 0
            have = stored.get(int(r.id))
            if want:
                live.add(int(r.id))
            if want and have is None:
                problems.append(Problem("missing_passages", int(r.id), r.uid,
                                        f"a long text ({want} passages) without passages",
                                        check=self.name))
            elif want and have is not None and (
                    have[0] != want or (dimension is not None and have[1] != dimension)):
                problems.append(Problem("stale_passages", int(r.id), r.uid,
                                        f"{have[0]} passages of width {have[1]} stored, the "
                                        f"text has {want}", check=self.name))
        for row_id in sorted(set(stored) - live):
            problems.append(Problem("orphan_passages", row_id, "", "passages of a memory that "
                                    "is gone, short or without its vector", check=self.name))
        return len(rows), problems

    def repair(self, backend: Any, problems: Sequence[Problem], embedder: Embedder) -> int:
        rebuild = sorted({p.row_id for p in problems if p.kind != "orphan_passages"})
        orphans = sorted({p.row_id for p in problems if p.kind == "orphan_passages"})
        if orphans:
            with backend.engine.begin() as conn:
                clear_passages(conn, orphans)
        for start in range(0, len(rebuild), _BATCH):
            marks = ", ".join(str(i) for i in rebuild[start : start + _BATCH])
            with backend.engine.begin() as conn:
                rows = conn.execute(text(
                    f"SELECT id, tenant_id, text FROM memories WHERE id IN ({marks})")).all()
                _, matrices = embed_with_passages(embedder, [r.text for r in rows])
                for r, matrix in zip(rows, matrices, strict=True):
                    write_passages(conn, int(r.id), str(r.tenant_id), matrix,
                                   embedder.model_id)
        return len(rebuild) + len(orphans)

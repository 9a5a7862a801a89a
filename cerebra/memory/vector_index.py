"""The SQLite backend's vector index: a search graph kept in step with the database.

The database is the source of truth: every memory's embedding is a BLOB in its row, and
every vector change is appended to `memory_vec_log` in the same transaction. This index
is a cache of those vectors. Before answering it replays the log from the position it has
applied; a file saved to disk carries that position in its name, so after a crash (or in
another process) the index loads the newest file and replays only what came after it, or
rebuilds from the rows when the log no longer reaches back that far. An acknowledged write
is therefore always searchable, and a rolled-back one never is.

The graph is usearch HNSW (f16) by default, or an exact FAISS flat index when
`memory.vector_index` is "faiss" (cerebra.memory.vector_graphs); files of one kind are
never loaded as the other, so switching kinds rebuilds from the rows once.
Why usearch (HNSW, f16): see the measurements in cerebra.memory.sqlite. Exact scans
(numpy 7 ms, sqlite-vec 41 ms at 100k) grow linearly with the scope; HNSW answers in well
under a millisecond, and usearch's f16 storage halves the memory of hnswlib's f32.
Beside the graph, a key-sorted float16 copy of the vectors scores small filtered sets
exactly (usearch returns stored vectors one Python object per key, too slow for that).
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import numpy as np
from sqlalchemy import Connection, text

from cerebra.memory.vector_graphs import new_graph

SAVE_EVERY = 50_000  # changes applied since the last save that trigger a save
WIDE_FLOATS = 8_000_000  # mirrors up to this many values keep a float32 copy (32 MB)
KEEP_LOG = 200_000  # log entries kept behind a saved position, for other readers to catch up
_FILE = re.compile(r"^vectors-(\d+)-s(\d+)(\.usearch|\.faiss)$")


class _Mirror:
    """The indexed vectors as a key-sorted float16 matrix, for exact scoring of subsets
    (usearch returns stored vectors one Python object per key, too slow for thousands).

    Up to WIDE_FLOATS values (20,833 rows of 384, 2,604 of 3,072) it also keeps the same
    values widened to float32 (`wide`): numpy converts float16 at ~2 ns an element here, so
    scoring 5,000 × 384 spent 3.4 ms widening and 0.12 ms multiplying."""

    def __init__(self, dim: int) -> None:
        self.keys = np.zeros(0, dtype=np.int64)
        self.mat = np.zeros((0, dim), dtype=np.float16)
        self.wide: np.ndarray | None = np.zeros((0, dim), dtype=np.float32)
        self.live = np.zeros(0, dtype=bool)
        self.size = 0

    def rows(self, pos: np.ndarray | slice) -> np.ndarray:
        """The vectors at `pos` as float32 (the float16 values, widened)."""
        if self.wide is not None:
            return self.wide[pos]
        return self.mat[pos].astype(np.float32)

    def _widen(self) -> None:
        """`wide` for the current capacity, or None past WIDE_FLOATS."""
        self.wide = self.mat.astype(np.float32) if self.mat.size <= WIDE_FLOATS else None

    def _positions(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pos = np.searchsorted(self.keys[: self.size], keys)
        found = pos < self.size
        found[found] = self.keys[pos[found]] == keys[found]
        return pos, found

    def upsert(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        order = np.argsort(keys, kind="stable")
        keys, vectors = keys[order], vectors[order]
        pos, found = self._positions(keys)
        self.mat[pos[found]] = vectors[found]
        if self.wide is not None:
            self.wide[pos[found]] = vectors[found]
        self.live[pos[found]] = True
        new_keys, new_vecs = keys[~found], vectors[~found]
        if len(new_keys) == 0:
            return
        total = self.size + len(new_keys)
        if total > len(self.keys):
            cap = max(total, 2 * len(self.keys), 1024)
            self.keys = np.resize(self.keys, cap)
            self.live = np.resize(self.live, cap)
            grown = np.zeros((cap, self.mat.shape[1]), dtype=np.float16)
            grown[: self.size] = self.mat[: self.size]
            self.mat = grown
            self._widen()
        appendable = self.size == 0 or new_keys[0] > self.keys[self.size - 1]
        self.keys[self.size : total] = new_keys
        self.mat[self.size : total] = new_vecs
        if self.wide is not None:
            self.wide[self.size : total] = new_vecs
        self.live[self.size : total] = True
        self.size = total
        if not appendable:  # a reused lower id: restore the sort order (rare)
            order = np.argsort(self.keys[:total], kind="stable")
            self.keys[:total] = self.keys[:total][order]
            self.mat[:total] = self.mat[:total][order]
            if self.wide is not None:
                self.wide[:total] = self.wide[:total][order]
            self.live[:total] = self.live[:total][order]

    def remove(self, keys: np.ndarray) -> None:
        pos, found = self._positions(keys)
        self.live[pos[found]] = False

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positions, mask of keys that are present and live)."""
        pos, found = self._positions(keys)
        found[found] = self.live[pos[found]]
        return pos, found

    def save(self, path: Path) -> None:
        with open(path, "wb") as handle:
            np.savez(
                handle,
                keys=self.keys[: self.size],
                mat=self.mat[: self.size],
                live=self.live[: self.size],
            )
            handle.flush()
            os.fsync(handle.fileno())

    def load(self, path: Path) -> None:
        with np.load(path) as data:
            self.keys, self.mat, self.live = data["keys"], data["mat"], data["live"]
        self.size = len(self.keys)
        self._widen()


class VectorIndex:
    """A graph over the embeddings of one dimension, replayed from the change log."""

    def __init__(self, dim: int, folder: Path | None, kind: str = "usearch") -> None:
        self.dim = dim
        self.folder = folder
        self.kind = kind
        self.index = new_graph(kind, dim)
        self.mirror = _Mirror(dim)
        self.seq = 0
        self.saved_seq = 0
        self.lock = threading.RLock()
        self._load()

    # -- persistence ------------------------------------------------------------------
    def _files(self) -> list[tuple[int, Path]]:
        if self.folder is None or not self.folder.is_dir():
            return []
        found = []
        for path in self.folder.iterdir():
            match = _FILE.match(path.name)
            if match and int(match.group(1)) == self.dim and match.group(3) == self.index.suffix:
                found.append((int(match.group(2)), path))
        return sorted(found)

    def _mirror_file(self, graph_file: Path) -> Path:
        """The mirror saved with a graph file: usearch's keep their first name (x-sN.npz),
        FAISS's add to theirs (x-sN.faiss.npz), so neither kind deletes the other's."""
        if self.kind == "usearch":
            return graph_file.with_suffix(".npz")
        return graph_file.with_name(graph_file.name + ".npz")

    def _load(self) -> None:
        for seq, path in reversed(self._files()):
            try:
                self.index.load(str(path))
                self.mirror.load(self._mirror_file(path))
            except Exception:  # a torn or foreign file: try an older one, else rebuild
                self.index = new_graph(self.kind, self.dim)
                self.mirror = _Mirror(self.dim)
                continue
            self.seq = self.saved_seq = seq
            return

    def save(self, conn: Connection | None = None) -> None:
        """Write the index atomically under a name carrying its log position."""
        with self.lock:
            if self.folder is None or self.seq == self.saved_seq:
                return
            self.folder.mkdir(parents=True, exist_ok=True)
            final = self.folder / f"vectors-{self.dim}-s{self.seq}{self.index.suffix}"
            # The .npz goes first: a graph file is only ever present beside its .npz.
            tmp = final.with_suffix(f".tmp{os.getpid()}")
            self.mirror.save(tmp)
            os.replace(tmp, self._mirror_file(final))
            self.index.save(str(tmp))
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, final)
            self.saved_seq = self.seq
            for seq, path in self._files():
                if seq < self.seq:
                    path.unlink(missing_ok=True)
                    self._mirror_file(path).unlink(missing_ok=True)
            if conn is not None:
                conn.execute(
                    text("DELETE FROM memory_vec_log WHERE seq <= :s"),
                    {"s": self.seq - KEEP_LOG},
                )

    # -- catching up ------------------------------------------------------------------
    def catch_up(self, conn: Connection) -> None:
        """Apply every logged change after `self.seq` (or rebuild if the log was trimmed)."""
        with self.lock:
            head = conn.execute(
                text("SELECT seq FROM sqlite_sequence WHERE name = 'memory_vec_log'")
            ).scalar()
            head = int(head or 0)
            if head <= self.seq:
                return
            first = conn.execute(text("SELECT min(seq) FROM memory_vec_log")).scalar()
            if first is None or int(first) > self.seq + 1 or head < self.seq:
                self._rebuild(conn, head)
                return
            while self.seq < head:  # in slices, so a large backlog never sits in memory
                upto = min(head, self.seq + 50_000)
                rows = conn.execute(
                    text(
                        "SELECT l.memory_id, m.embedding FROM memory_vec_log l "
                        "LEFT JOIN memories m ON m.id = l.memory_id "
                        "WHERE l.seq > :s AND l.seq <= :h ORDER BY l.seq"
                    ),
                    {"s": self.seq, "h": upto},
                ).all()
                final: dict[int, bytes | None] = {}
                for memory_id, blob in rows:  # the row's current state is the one to index
                    final[int(memory_id)] = blob
                self._apply(final)
                self.seq = upto

    def _apply(self, final: dict[int, bytes | None]) -> None:
        if not final:
            return
        keys = np.fromiter(final.keys(), dtype=np.int64, count=len(final))
        _, present = self.mirror.lookup(keys)  # the graph holds exactly the mirror's live keys
        if present.any():  # (FAISS scans every id to remove any: 20 ms at 100k, even for none)
            self.index.remove(keys[present])
            self.mirror.remove(keys[present])
        add_keys = [
            k for k, blob in final.items() if blob is not None and len(blob) == self.dim * 4
        ]
        if add_keys:
            vectors = np.stack(
                [np.frombuffer(final[k], dtype=np.float32) for k in add_keys]  # type: ignore[arg-type]
            )
            self._add(np.asarray(add_keys, dtype=np.int64), vectors)

    def _add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        self.index.add(keys, vectors)
        self.mirror.upsert(keys, vectors.astype(np.float16))

    def _rebuild(self, conn: Connection, head: int) -> None:
        self.index = new_graph(self.kind, self.dim)
        self.mirror = _Mirror(self.dim)
        last = 0
        while True:
            rows = conn.execute(
                text(
                    "SELECT id, embedding FROM memories WHERE id > :last AND embedding IS NOT "
                    "NULL AND length(embedding) = :n ORDER BY id LIMIT 20000"
                ),
                {"last": last, "n": self.dim * 4},
            ).all()
            if not rows:
                break
            keys = np.asarray([r[0] for r in rows], dtype=np.int64)
            vectors = np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
            self._add(keys, vectors)
            last = int(rows[-1][0])
        self.seq = head

    def maybe_save(self) -> None:
        if self.folder is not None and self.seq - self.saved_seq >= SAVE_EVERY:
            self.save()

    # -- queries ----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.index)

    def search(self, query: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Nearest keys (approximate with usearch, exact with faiss) and their inner
        products, best first."""
        with self.lock:
            count = min(count, len(self.index))
            if count <= 0:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            return self.index.search(query, count)

    def exact(
        self, query: np.ndarray, keys: np.ndarray | None, count: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact top `count` among `keys`, or among every indexed key when `keys` is None
        (keys that are not indexed are skipped), best first and equal scores by key."""
        if (keys is not None and len(keys) == 0) or count <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        with self.lock:
            mirror = self.mirror
            if keys is None:
                live = mirror.live[: mirror.size]
                keys = mirror.keys[: mirror.size][live]
                sims = (mirror.rows(slice(0, mirror.size)) @ query)[live]
            else:
                pos, ok = mirror.lookup(keys.astype(np.int64))
                keys = keys[ok]
                if len(keys) == 0:
                    return keys, np.zeros(0, dtype=np.float32)
                sims = mirror.rows(pos[ok]) @ query
        if len(sims) == 0:
            return keys, sims.astype(np.float32)
        k = min(count, len(sims))
        # best first, equal scores by key: every rank, the cut at `count` included, is the
        # same whichever superset of keys was scored
        cut = sims[np.argpartition(-sims, k - 1)[k - 1]]
        top = np.flatnonzero(sims >= cut)
        top = top[np.lexsort((keys[top], -sims[top]))][:k]
        return keys[top], sims[top]

    def keys(self) -> tuple[set[int], set[int]]:
        """(keys in both the graph and the exact mirror, keys in either)."""
        with self.lock:
            graph = {int(k) for k in self.index.ids()}
            size = self.mirror.size
            mirror = {int(k) for k in self.mirror.keys[:size][self.mirror.live[:size]]}
        return graph & mirror, graph | mirror

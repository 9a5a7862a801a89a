"""The vector index's exact scoring: its float32 copy of the float16 mirror (`wide`) holds
the same values through growth, re-sorting, removal and a reload, and past WIDE_FLOATS the
mirror scores from float16 alone with the same results. `exact` ranks best first with
equal scores by key, so the whole store's top and a subset's top agree on every rank."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cerebra.memory import vector_index
from cerebra.memory.vector_index import VectorIndex


def _vectors(n: int, dim: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _want(keys: np.ndarray, x: np.ndarray, q: np.ndarray, count: int) -> list[int]:
    sims = x.astype(np.float16).astype(np.float32) @ q
    return keys[np.lexsort((keys, -sims))][:count].tolist()


@pytest.mark.parametrize("wide_floats", [8_000_000, 1_600])
def test_exact_scores_the_float16_values(
    wide_floats: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vector_index, "WIDE_FLOATS", wide_floats)
    dim = 16
    x = _vectors(1500, dim, seed=1)
    keys = np.arange(10, 1510, dtype=np.int64)
    index = VectorIndex(dim, tmp_path, "usearch")
    for start in range(0, 1500, 300):  # grows several times
        index._add(keys[start + 5 : start + 300], x[start + 5 : start + 300])
    index._add(keys[0:1500:300], x[0:1500:300])  # lower ids after higher: re-sorted
    for start in range(1, 5):
        index._add(keys[start:1500:300], x[start:1500:300])
    mirror = index.mirror
    assert (mirror.wide is not None) == (wide_floats == 8_000_000)
    if mirror.wide is not None:
        widened = mirror.mat[: mirror.size].astype(np.float32)
        assert np.array_equal(mirror.wide[: mirror.size], widened)
    gone = keys[::7]
    index.index.remove(gone)
    mirror.remove(gone)
    live = np.ones(len(keys), dtype=bool)
    live[::7] = False
    for q in _vectors(10, dim, seed=2):
        found, sims = index.exact(q, None, 40)
        assert found.tolist() == _want(keys[live], x[live], q, 40)
        assert np.all(np.diff(sims) <= 0)
        subset = keys[::3]
        allowed = live[::3]
        found, _ = index.exact(q, subset, 25)
        assert found.tolist() == _want(subset[allowed], x[::3][allowed], q, 25)
    index.seq = 1  # as if replayed from the log up to entry 1
    index.save()
    loaded = VectorIndex(dim, tmp_path, "usearch")
    assert (loaded.mirror.wide is not None) == (wide_floats == 8_000_000)
    q = _vectors(1, dim, seed=3)[0]
    assert loaded.exact(q, None, 30)[0].tolist() == index.exact(q, None, 30)[0].tolist()


def test_equal_scores_rank_by_key_in_any_superset() -> None:
    """Ties at the cut: the whole store's top 3 and a subset's top 3 are the same keys."""
    dim = 4
    index = VectorIndex(dim, None, "usearch")
    same = np.tile(np.asarray([[1.0, 0.0, 0.0, 0.0]], dtype=np.float32), (6, 1))
    index._add(np.asarray([50, 40, 30, 20, 10, 60], dtype=np.int64), same)
    index._add(np.asarray([70], dtype=np.int64), np.asarray([[0.0, 1.0, 0.0, 0.0]], np.float32))
    q = np.asarray([1.0, 0.0, 0.0, 0.0], dtype=np.float32)
    assert index.exact(q, None, 3)[0].tolist() == [10, 20, 30]
    assert index.exact(q, np.asarray([70, 30, 10, 20, 60]), 3)[0].tolist() == [10, 20, 30]
    assert index.exact(q, None, 10)[0].tolist() == [10, 20, 30, 40, 50, 60, 70]
    assert index.exact(q, np.asarray([999]), 3)[0].tolist() == []
    assert index.exact(q, None, 0)[0].tolist() == []

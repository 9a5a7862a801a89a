"""The FAISS vector index option: it runs on this CPU (checked in a child process, so an
illegal-instruction crash fails this test, not the run), and it finds exactly what the
existing index's exact path and numpy find."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from cerebra.memory.vector_graphs import FaissFlatGraph, load_faiss, new_graph
from cerebra.memory.vector_index import VectorIndex


def _vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_faiss_searches_on_this_cpu_in_a_child_process() -> None:
    code = textwrap.dedent(
        """
        import numpy as np
        from cerebra.memory.vector_graphs import FaissFlatGraph
        x = np.random.default_rng(1).standard_normal((2000, 384)).astype(np.float32)
        g = FaissFlatGraph(384)
        g.add(np.arange(10, 2010, dtype=np.int64), x)
        keys, sims = g.search(x[5], 3)
        want = np.argsort(-(x @ x[5]), kind="stable")[:3] + 10
        print(keys.tolist() == want.tolist(), round(float(sims[0] - x[5] @ x[5]), 3))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"faiss crashed (code {done.returncode}): {done.stderr[-2000:]}"
    assert done.stdout.split() == ["True", "0.0"]


def test_faiss_graph_is_exact_and_keeps_ids() -> None:
    x = _vectors(500, 32)
    keys = np.arange(1000, 1500, dtype=np.int64)
    graph = new_graph("faiss", 32)
    graph.add(keys, x)
    graph.remove(np.asarray([1000, 1003, 99999], dtype=np.int64))  # an absent key is ignored
    assert len(graph) == 498 and 1000 not in set(graph.ids().tolist())
    for q in x[:20]:
        found, sims = graph.search(q, 10)
        scores = x @ q
        scores[[0, 3]] = -np.inf
        want = np.argsort(-scores, kind="stable")[:10]
        assert found.tolist() == (keys[want]).tolist()
        assert np.allclose(sims, scores[want], atol=1e-5)
    assert len(graph.search(x[0], 10_000)[0]) == 498  # no -1 padding comes back
    faiss = load_faiss()  # a search runs on one OpenMP thread and leaves the count (torch's
    start = faiss.omp_get_max_threads()  # too: they share the runtime) as it found it
    faiss.omp_set_num_threads(start + 1)
    try:
        graph.search(x[0], 5)
        assert faiss.omp_get_max_threads() == start + 1
    finally:
        faiss.omp_set_num_threads(start)
    with pytest.raises(ValueError):
        new_graph("annoy", 32)


def test_faiss_index_matches_the_existing_exact_path() -> None:
    """VectorIndex with either graph over the same vectors: FAISS search == the usearch
    index's exact scoring (its f16 mirror) == numpy, up to f16 rounding of the scores."""
    x = _vectors(3000, 64, seed=2)
    keys = np.arange(1, 3001, dtype=np.int64)
    usearch, faiss = VectorIndex(64, None, "usearch"), VectorIndex(64, None, "faiss")
    for index in (usearch, faiss):
        index._add(keys, x)
    for q in _vectors(25, 64, seed=3):
        f_keys, f_sims = faiss.search(q, 50)
        u_keys, u_sims = usearch.exact(q, keys, 50)
        n_order = np.argsort(-(x @ q), kind="stable")[:50]
        assert f_keys.tolist() == keys[n_order].tolist()
        assert np.allclose(f_sims, u_sims, atol=3e-3)
        assert len(set(f_keys.tolist()) & set(u_keys.tolist())) >= 48  # f16 near-ties aside


def test_saved_faiss_file_loads_back_and_foreign_files_do_not(tmp_path: Path) -> None:
    x = _vectors(100, 16, seed=4)
    graph = FaissFlatGraph(16)
    graph.add(np.arange(100, dtype=np.int64) * 7, x)
    graph.save(str(tmp_path / "g.faiss"))
    loaded = FaissFlatGraph(16)
    loaded.load(str(tmp_path / "g.faiss"))
    assert loaded.search(x[3], 1)[0].tolist() == [21]
    with pytest.raises(ValueError):
        FaissFlatGraph(8).load(str(tmp_path / "g.faiss"))  # another dimension

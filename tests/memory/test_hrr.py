"""HRR algebra (cerebra.memory.hrr) and the conversation residual (cerebra.memory.residual)."""

from __future__ import annotations

import numpy as np
import pytest

from cerebra.memory.hrr import (
    CleanupMemory,
    bind,
    cosine,
    involution,
    recovery_accuracy,
    role_vector,
    superpose,
    unbind,
)
from cerebra.memory.residual import (
    ConversationResidual,
    ResidualTurn,
    expand_query,
    from_base64,
    to_base64,
)
from cerebra.testing import FakeEmbedder


def test_role_vectors_are_seeded_gaussians_of_variance_one_over_d() -> None:
    a = role_vector("speaker", 4096)
    assert np.array_equal(a, role_vector("speaker", 4096))
    assert not np.array_equal(a, role_vector("speaker", 4096, seed=1))
    assert not np.array_equal(a, role_vector("content", 4096))
    assert abs(float(a.mean())) < 0.01
    assert float(a.var()) * 4096 == pytest.approx(1.0, abs=0.1)


def test_binding_is_circular_convolution_and_correlation_undoes_it() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1 / np.sqrt(8), (2, 8)).astype(np.float32)
    direct = np.array([sum(a[j] * b[(i - j) % 8] for j in range(8)) for i in range(8)])
    assert np.allclose(bind(a, b), direct, atol=1e-5)
    assert np.allclose(bind(a, b), bind(b, a), atol=1e-5)  # commutative
    trace = bind(a, b)
    assert np.allclose(unbind(trace, a), bind(trace, involution(a)), atol=1e-5)
    r, f = role_vector("r", 2048), role_vector("f", 2048)
    other = role_vector("g", 2048)
    decoded = unbind(bind(r, f), r)
    assert cosine(decoded, f) > 0.5 and abs(cosine(decoded, other)) < 0.1


def test_superposition_and_clean_up_recover_each_filler() -> None:
    names = [f"w{i}" for i in range(50)]
    vocab = np.stack([role_vector(n, 1024) for n in names])
    roles = [role_vector(f"role{i}", 1024) for i in range(5)]
    trace = superpose([bind(r, vocab[i * 7]) for i, r in enumerate(roles)])
    memory = CleanupMemory(names, vocab)
    assert [memory.nearest(unbind(trace, r))[0] for r in roles] == [f"w{i * 7}" for i in range(5)]
    weighted = superpose([vocab[0], vocab[1]], [2.0, 0.0])
    assert np.allclose(weighted, 2 * vocab[0])


def test_recovery_accuracy_falls_as_bound_pairs_grow() -> None:
    """The capacity curve at d=1024: exact for a few pairs, then a steady fall."""
    ks = [4, 32, 96, 256]
    curve = [recovery_accuracy(1024, k, vocabulary=500, trials=4, seed=7) for k in ks]
    assert curve[0] == 1.0 and curve[1] >= 0.9
    assert curve[1] > curve[2] > curve[3], curve
    assert curve[3] < 0.4
    # a smaller space holds fewer pairs: at 32 pairs, d=256 loses what d=1024 keeps
    assert recovery_accuracy(256, 32, vocabulary=500, trials=4, seed=7) < curve[1] - 0.2


def _turns(n: int, embedder: FakeEmbedder) -> tuple[list[ResidualTurn], np.ndarray]:
    words = ["piano", "garden", "lisbon", "marathon", "sister", "recipe", "violin", "harbor"]
    texts = [f"{words[i]} {words[i]}s {i * 13} {words[i]}ing" for i in range(n)]
    vectors = embedder.embed(texts)
    speakers = ["user" if i % 2 == 0 else "assistant" for i in range(n)]
    return [ResidualTurn(s, v) for s, v in zip(speakers, vectors, strict=True)], vectors


def test_residual_decodes_who_said_what_and_when() -> None:
    embedder = FakeEmbedder()
    turns, vectors = _turns(6, embedder)
    residual = ConversationResidual(vectors.shape[1], dim=1024, decay=0.8, window=8)
    trace = residual.encode(turns)
    assert trace.shape == (1024,)
    texts = CleanupMemory([str(i) for i in range(6)], vectors)
    for age in range(6):
        index = 5 - age  # age 0 is the latest turn
        assert texts.nearest(residual.content_at(trace, age))[0] == str(index)
        assert residual.speaker_at(trace, age, ["user", "assistant"]) == turns[index].speaker
    exact = sum(0.8 ** (2 * age) * vectors[5 - age] for age in range(6))
    others, _ = _turns(8, embedder)
    unrelated = sum(0.8 ** (2 * age) * others[7 - age].vector for age in range(2))
    context = residual.context_vector(trace)
    assert cosine(context, exact) > 0.6
    assert cosine(context, exact) > cosine(context, unrelated) + 0.3


def test_residual_keeps_only_its_window_and_round_trips_as_base64() -> None:
    embedder = FakeEmbedder()
    turns, vectors = _turns(6, embedder)
    residual = ConversationResidual(vectors.shape[1], dim=512, window=3)
    trace = residual.encode(turns)
    assert np.allclose(trace, residual.encode(turns[-3:]))
    assert np.array_equal(from_base64(to_base64(trace)), trace)
    assert not residual.context_vector(np.zeros(512, np.float32)).any()
    with pytest.raises(ValueError):
        ConversationResidual(vectors.shape[1], dim=vectors.shape[1] - 1)
    with pytest.raises(ValueError):
        residual.encode([ResidualTurn("user", np.ones(3, np.float32))])


def test_expand_query_mixes_and_normalises() -> None:
    q = np.array([1.0, 0.0], np.float32)
    c = np.array([0.0, 1.0], np.float32)
    assert np.allclose(expand_query(q, c, 0.0), q)
    assert np.allclose(expand_query(q, c, 1.0), np.array([1, 1]) / np.sqrt(2))

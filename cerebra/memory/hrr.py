"""Holographic reduced representations (Plate, 1995): the algebra of bound vectors.

Vectors are real, of dimension d, with elements drawn i.i.d. from N(0, 1/d) (so their norm
is about 1). Binding is circular convolution, computed through the FFT in O(d log d);
unbinding is circular correlation, convolution with the involution a*[i] = a[-i mod d],
which is the approximate inverse of a random vector. Superposition is addition: a trace
of k bound pairs, unbound by one pair's role, gives that pair's filler plus noise that grows
with k, so a clean-up memory (the nearest of a known vocabulary by cosine) recovers it with
an accuracy that stays high for a few pairs and falls as k approaches d / 10 or so.
`recovery_accuracy` measures that capacity curve.

Role vectors are deterministic: the same name, dimension and seed give the same vector in
every process, so a trace made by one process can be unbound by another.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np


def role_vector(name: str, dim: int, seed: int = 0) -> np.ndarray:
    """The random vector named `name` (elements N(0, 1/dim)), the same on every call."""
    if dim < 2:
        raise ValueError("an HRR vector needs at least 2 dimensions")
    key = int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big")
    rng = np.random.default_rng([seed, key])
    return rng.normal(0.0, 1.0 / np.sqrt(dim), dim).astype(np.float32)


def bind(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Circular convolution a ⊛ b: (a ⊛ b)[i] = Σ_j a[j] b[(i - j) mod d]."""
    d = a.shape[-1]
    return np.fft.irfft(np.fft.rfft(a) * np.fft.rfft(b), n=d).astype(np.float32)


def unbind(trace: np.ndarray, role: np.ndarray) -> np.ndarray:
    """Circular correlation of `trace` with `role`: ≈ the filler bound to `role` in it."""
    d = trace.shape[-1]
    return np.fft.irfft(np.conj(np.fft.rfft(role)) * np.fft.rfft(trace), n=d).astype(
        np.float32
    )


def involution(a: np.ndarray) -> np.ndarray:
    """a*[i] = a[-i mod d], the approximate inverse: bind(t, involution(r)) == unbind(t, r)."""
    return np.roll(a[..., ::-1], 1, axis=-1)


def superpose(vectors: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> np.ndarray:
    """The (weighted) sum of `vectors`: one trace holding all of them."""
    if not vectors:
        raise ValueError("nothing to superpose")
    stack = np.stack(vectors).astype(np.float32)
    if weights is None:
        return stack.sum(axis=0)
    w = np.asarray(weights, dtype=np.float32)
    if w.shape != (len(vectors),):
        raise ValueError("one weight per vector")
    return (w[:, None] * stack).sum(axis=0)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return 0.0 if na == 0 or nb == 0 else float(a @ b) / (na * nb)


class CleanupMemory:
    """A vocabulary of named vectors; `nearest` maps a noisy vector to the most similar."""

    def __init__(self, names: Sequence[str], vectors: np.ndarray) -> None:
        if len(names) != len(vectors) or not len(names):
            raise ValueError("one name per vector, at least one")
        self.names = list(names)
        matrix = np.asarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        self._unit = matrix / np.where(norms == 0, 1.0, norms)

    def similarities(self, vector: np.ndarray) -> np.ndarray:
        """Cosine of `vector` with every item of the vocabulary, in its order."""
        norm = float(np.linalg.norm(vector))
        return self._unit @ (vector / norm) if norm else np.zeros(len(self.names), np.float32)

    def nearest(self, vector: np.ndarray) -> tuple[str, float]:
        """The vocabulary item most similar to `vector`, with its cosine."""
        sims = self.similarities(vector)
        best = int(np.argmax(sims))
        return self.names[best], float(sims[best])


def recovery_accuracy(
    dim: int, pairs: int, *, vocabulary: int = 1000, trials: int = 20, seed: int = 0
) -> float:
    """Fraction of fillers recovered exactly from a trace of `pairs` bound role/filler pairs.

    Each trial draws `pairs` distinct roles and fillers (fillers from a vocabulary of
    `vocabulary` random vectors), superposes their bindings, unbinds every role and cleans
    the result up against the whole vocabulary; the answer is correct when the nearest item
    is the filler that was bound to that role.
    """
    if pairs < 1 or pairs > vocabulary:
        raise ValueError("pairs must be between 1 and the vocabulary's size")
    rng = np.random.default_rng(seed)
    scale = 1.0 / np.sqrt(dim)
    fillers = rng.normal(0.0, scale, (vocabulary, dim)).astype(np.float32)
    memory = CleanupMemory([str(i) for i in range(vocabulary)], fillers)
    correct = 0
    for _ in range(trials):
        roles = rng.normal(0.0, scale, (pairs, dim)).astype(np.float32)
        chosen = rng.choice(vocabulary, size=pairs, replace=False)
        trace = bind(roles, fillers[chosen]).sum(axis=0)
        decoded = unbind(np.broadcast_to(trace, roles.shape), roles)
        for row, want in zip(decoded, chosen, strict=True):
            correct += int(np.argmax(memory.similarities(row))) == int(want)
    return correct / (trials * pairs)

"""The conversation-state residual: a conversation's recent turns as one HRR vector.

Each turn is a record binding two roles to their fillers, `speaker ⊛ name + content ⊛
embedding`, and the record of the turn `age` turns back (0 = the latest) is bound to a
recency role and weighted `decay ** age`:

    R = Σ_age decay^age · recency_age ⊛ (speaker ⊛ name(turn) + content ⊛ lift(e(turn)))

The embeddings come from the configured embedder; `lift` maps them into the HRR space
(dimension `dim`, at least the embedder's) by a fixed, seeded matrix with orthonormal
columns, so a wider HRR space holds more turns while distances are kept. Unbinding by a
recency role and then by a role gives back, approximately, who spoke at that age and what
they said (`speaker_at`, `content_at`); `context_vector` decodes a decayed mixture of the
recent turns' contents back in embedding space — what a retriever could add to a query.
Decoding is noisy: the wider `dim` is against the embedder's dimension and the fewer turns
are bound, the closer the decoded mixture is to the exact one.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cerebra.memory.hrr import CleanupMemory, bind, role_vector, unbind

SPEAKER_ROLE = "role:speaker"
CONTENT_ROLE = "role:content"


@dataclass(frozen=True)
class ResidualTurn:
    """One turn for the residual: who said it and its embedding."""

    speaker: str
    vector: np.ndarray


class ConversationResidual:
    """Encodes turns into a residual vector and decodes parts of one back.

    `embed_dim` is the embedder's dimension, `dim` the HRR space's (≥ embed_dim); `decay`
    weighs older turns down (0 < decay ≤ 1); `window` is how many recent turns are kept.
    """

    def __init__(
        self, embed_dim: int, *, dim: int = 1024, decay: float = 0.7, window: int = 8,
        seed: int = 0,
    ) -> None:
        if embed_dim < 1 or dim < embed_dim:
            raise ValueError("the HRR dimension must be at least the embedder's")
        if not 0 < decay <= 1:
            raise ValueError("decay must be in (0, 1]")
        if window < 1:
            raise ValueError("window must be at least 1")
        self.embed_dim, self.dim, self.decay, self.window, self.seed = (
            embed_dim, dim, decay, window, seed)
        rng = np.random.default_rng([seed, embed_dim, dim])
        q, _ = np.linalg.qr(rng.normal(size=(dim, embed_dim)))
        self._lift = q.astype(np.float32)  # dim × embed_dim, orthonormal columns
        self._speaker = role_vector(SPEAKER_ROLE, dim, seed)
        self._content = role_vector(CONTENT_ROLE, dim, seed)

    def recency(self, age: int) -> np.ndarray:
        return role_vector(f"recency:{age}", self.dim, self.seed)

    def name(self, speaker: str) -> np.ndarray:
        return role_vector(f"speaker:{speaker}", self.dim, self.seed)

    def lift(self, vector: np.ndarray) -> np.ndarray:
        return self._lift @ np.asarray(vector, dtype=np.float32)

    def lower(self, vector: np.ndarray) -> np.ndarray:
        return self._lift.T @ vector

    def encode(self, turns: Sequence[ResidualTurn]) -> np.ndarray:
        """The residual of `turns` (oldest first); only the last `window` count."""
        trace = np.zeros(self.dim, np.float32)
        for age, turn in enumerate(reversed(turns[-self.window:])):
            if np.asarray(turn.vector).shape != (self.embed_dim,):
                raise ValueError(f"a turn's vector must have {self.embed_dim} dimensions")
            record = bind(self._speaker, self.name(turn.speaker)) + bind(
                self._content, self.lift(turn.vector))
            trace += self.decay**age * bind(self.recency(age), record)
        return trace

    def _record(self, trace: np.ndarray, age: int) -> np.ndarray:
        return unbind(trace, self.recency(age)) / np.float32(self.decay**age)

    def content_at(self, trace: np.ndarray, age: int) -> np.ndarray:
        """≈ the embedding of the turn `age` turns back (noisy; compare by cosine)."""
        return self.lower(unbind(self._record(trace, age), self._content))

    def speaker_at(self, trace: np.ndarray, age: int, speakers: Sequence[str]) -> str:
        """Which of `speakers` spoke `age` turns back, by clean-up of the decoded name."""
        memory = CleanupMemory(list(speakers), np.stack([self.name(s) for s in speakers]))
        return memory.nearest(unbind(self._record(trace, age), self._speaker))[0]

    def context_vector(self, trace: np.ndarray) -> np.ndarray:
        """The recent turns' contents decoded from the trace and mixed, unit length in
        embedding space (zeros for an empty trace).

        Unbinding age a gives decay^a · e(turn) plus noise of about the same size at every
        age, so each age is weighed by decay^a again (a matched filter): the result
        approximates Σ decay^(2·age) · e(turn), the latest turns dominating."""
        total = np.zeros(self.embed_dim, np.float32)
        for age in range(self.window):
            decoded = unbind(unbind(trace, self.recency(age)), self._content)
            total += np.float32(self.decay**age) * self.lower(decoded)
        norm = float(np.linalg.norm(total))
        return total / norm if norm > 1e-9 else total


def expand_query(query: np.ndarray, context: np.ndarray, weight: float) -> np.ndarray:
    """`query + weight · context`, back to unit length (the residual as query expansion)."""
    mixed = np.asarray(query, np.float32) + np.float32(weight) * np.asarray(context, np.float32)
    norm = float(np.linalg.norm(mixed))
    return mixed / norm if norm > 1e-9 else mixed


def to_base64(vector: np.ndarray) -> str:
    """The vector as little-endian float32 bytes in base64."""
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


def from_base64(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f4").copy()

"""The agent as the registry hands it out (a frozen snapshot of its row), its title changes,
and the errors agents raise (an unknown agent is a 404, a sandboxed one asked for users a
409)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from cerebra.errors import Conflict, NotFound


class UnknownAgent(NotFound):
    code = "agent_not_found"


class AgentSandboxed(Conflict):
    """A sandboxed agent runs only in competitions, never for users."""

    code = "agent_sandboxed"


@dataclass(frozen=True)
class TitleChange:
    """One step of a career: `from_title` is None when the agent was created."""

    from_title: str | None
    to_title: str
    reason: str
    at: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Agent:
    """An agent of a tenant: persona, record, title, lineage and how it answers.

    `lower_bound`/`upper_bound` are the Wilson interval of its mean score (at the
    registry's confidence), what its title follows.
    """

    id: str
    tenant_id: str
    system_prompt: str
    mood: str
    tone: str
    traits: tuple[str, ...]
    title: str
    n: int
    successes: int
    score_sum: float
    score_sq: float
    sandboxed: bool
    mentor_id: str | None
    parents: tuple[str, ...]
    memory_scope: str
    preferred_models: tuple[str, ...]
    template: str | None
    created_at: float
    updated_at: float
    lower_bound: float = 0.0
    upper_bound: float = 1.0

    @property
    def mean_score(self) -> float:
        return self.score_sum / self.n if self.n else 0.0

    @property
    def score_variance(self) -> float:
        """The variance of its scores (0 with fewer than two)."""
        if self.n < 2:
            return 0.0
        return max(0.0, (self.score_sq - self.score_sum ** 2 / self.n) / (self.n - 1))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(traits=list(self.traits), parents=list(self.parents),
                   preferred_models=list(self.preferred_models),
                   mean_score=self.mean_score)
        return out

"""The shapes of context bundles (issue 12, item 5), as pydantic models: what an outside
agent that runs its own model gets from `POST /context/evaluate` (`ContextBundle`) and
what its feedback reached (`FeedbackOutcome`). The OpenAPI schema
documents them from here; cerebra.memory.bundle fills them in."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from cerebra.governance.directives import Directives

RESIDUAL_ENCODING: Literal["float32-le-base64"] = "float32-le-base64"


class BundleMemory(BaseModel):
    """One recalled memory, with its score and how each retrieval signal made it."""

    id: str
    text: str
    score: float = Field(description="the fused ranking score")
    weight: float = Field(description="score over the sum of the bundle's scores (sums to 1)")
    signals: dict[str, float] = Field(description="each signal's contribution to score")
    shares: dict[str, float] = Field(description="each signal's fraction of score")
    relevant: bool = Field(description="clears the relevance floor: Brain would inject it "
                           "(only these are in the recommended prompt)")
    created_at: float
    source: str
    tags: list[str]
    metadata: dict[str, Any]


class WorkingEntry(BaseModel):
    """An item of the session's working memory (a recent turn or a scratch note)."""

    id: str
    kind: Literal["turn", "note"]
    text: str
    created_at: float


class GraphFact(BaseModel):
    """A relation the knowledge graph holds about the recalled memories' entities."""

    subject: str
    predicate: str
    object: str
    memory_id: str | None = None


class ProfileFact(BaseModel):
    """The current value of one attribute the user stated (cerebra.memory.profile)."""

    attribute: str
    value: str
    confidence: float
    memory_ids: list[str] = Field(description="the memories that state it")
    first_stated: float
    last_stated: float


class UserProfile(BaseModel):
    user_id: str
    facts: list[ProfileFact] = Field(description="most confident first")


class Residual(BaseModel):
    """The HRR residual of the conversation state (cerebra.memory.residual): the history's
    recent turns bound to speaker, content and recency roles, decayed over turns. Role
    vectors are `role_vector(name, dim, seed)` for "role:speaker", "role:content",
    "recency:<age>" and "speaker:<role>"; embeddings are lifted by the seeded orthonormal
    matrix of ConversationResidual(embed_dim, dim=dim, seed=seed)."""

    encoding: Literal["float32-le-base64"] = RESIDUAL_ENCODING
    vector: str = Field(description="dim float32 values, little-endian, base64")
    dim: int
    embed_dim: int
    embedder: str
    decay: float
    window: int
    seed: int
    turns: int = Field(description="how many history turns it holds (0: all zeros)")


class PromptMessage(BaseModel):
    role: str
    content: str


class RecommendedPrompt(BaseModel):
    """The messages to send: the memories rendered as Cerebra renders its own prompts
    (cerebra.prompts.renderer), the history, then the query as the last user turn."""

    messages: list[PromptMessage]
    injected: list[str] = Field(description="ids of the memories that fit the token budget")
    token_budget: int


class ContextBundle(BaseModel):
    """Everything an agent needs to answer with its own model, and an id to rate it by."""

    id: str
    created_at: float
    query: str
    user_id: str
    agent_id: str
    session_id: str
    memories: list[BundleMemory]
    working_memory: list[WorkingEntry] | None = Field(
        default=None, description="null: no working memory in this deployment")
    profile: UserProfile | None = Field(
        default=None, description="null: no profile is kept for this user")
    graph_facts: list[GraphFact] | None = Field(
        default=None, description="null: no knowledge graph in this deployment")
    residual: Residual
    prompt: RecommendedPrompt
    directives: Directives
    weights: dict[str, float] = Field(description="the retrieval weights in force")


class FeedbackOutcome(BaseModel):
    """What an agent's feedback on a bundle reached."""

    bundle_id: str
    score: float | None
    helpful: list[str]
    unhelpful: list[str]
    reinforced: int = Field(description="memories whose salience moved")

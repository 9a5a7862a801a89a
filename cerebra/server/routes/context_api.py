"""Context bundles over HTTP, for agents that run their own models: `POST /context/evaluate`
answers a ContextBundle (memories with their signals, working memory, graph facts, the HRR
residual of the conversation, the recommended prompt, governance directives) and
`POST /context/feedback` takes the agent's outcome. The routes parse, call
cerebra.memory.bundle.ContextBundler and format; a scope or bundle the caller does not own
is 404, bad input 422 naming the field.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from cerebra.auth.principal import Scope
from cerebra.brain import Brain
from cerebra.context import RequestContext
from cerebra.memory.bundle import MAX_HISTORY, MAX_K, BundleQuery, ContextBundler
from cerebra.memory.bundle_types import ContextBundle, FeedbackOutcome
from cerebra.models.base import Message
from cerebra.prompts.renderer import DEFAULT_PERSONA
from cerebra.server.auth import requires
from cerebra.server.deps import get_brain
from cerebra.server.request_schemas import WHOLE
from cerebra.server.routes.memory import UnixTime

router = APIRouter(prefix="/context", tags=["context"])

Text = Annotated[str, Field(min_length=1, max_length=20_000, pattern=r"\S",
                            description="not blank; at most memory.max_chars (20,000)")]
Name = Annotated[str, Field(max_length=200)]
MemoryId = Annotated[str, Field(min_length=1, max_length=64)]
# as_of: an ISO date (the end of that day) or a UNIX time
Day = Annotated[date, Field(description="YYYY-MM-DD")]


class Turn(BaseModel):
    role: Literal["user", "assistant", "system", "tool"]
    content: Text


class EvaluateIn(BaseModel):
    query: Text
    agent_id: Name | None = Field(default=None, description="null: any agent's memories")
    user_id: Name | None = Field(default=None, description="null: the caller's own user, or "
                                 "any user for a caller with memory:any_user")
    session_id: Name = Field(default="", description="the conversation (working memory)")
    history: list[Turn] = Field(default_factory=list, max_length=MAX_HISTORY,
                                description="the conversation so far, oldest first")
    k: Annotated[int, Field(ge=1, le=MAX_K, strict=True), WHOLE] = 8
    token_budget: Annotated[int, Field(ge=0, le=100_000, strict=True), WHOLE] | None = Field(
        default=None, description="tokens for memories in the prompt; null: memory.token_budget")
    persona: str | None = Field(default=None, max_length=20_000,
                                description="the system prompt's persona; null: Cerebra's")
    as_of: Day | UnixTime | None = Field(
        default=None, description="recall the facts valid then: a date (YYYY-MM-DD, the end "
        "of that day) or a UNIX time; null: a date in the query, else now")


def _something_to_say(schema: dict[str, Any]) -> None:
    """A score, or at least one helpful or unhelpful memory id."""
    schema["anyOf"] = [
        {"required": ["score"], "properties": {"score": {"type": "number"}}},
        *({"required": [name], "properties": {name: {"type": "array", "minItems": 1}}}
          for name in ("helpful", "unhelpful")),
    ]


class FeedbackIn(BaseModel):
    model_config = ConfigDict(json_schema_extra=_something_to_say)

    bundle_id: Annotated[str, Field(min_length=1, max_length=64)]
    score: float | None = Field(default=None, ge=0.0, le=1.0, strict=True,
                                description="the outcome, 0 (bad) to 1 (good)")
    helpful: list[MemoryId] = Field(default_factory=list, max_length=200)
    unhelpful: list[MemoryId] = Field(default_factory=list, max_length=200)


def get_bundler(request: Request, brain: Brain = Depends(get_brain)) -> ContextBundler:
    """One bundler per app (its residual encoders are kept between requests)."""
    state = request.app.state
    bundler = getattr(state, "context_bundler", None)
    if bundler is None or bundler.memory is not brain.memory:
        bundler = ContextBundler.of(brain)
        state.context_bundler = bundler
    return bundler


@router.post("/evaluate", response_model=ContextBundle)
async def evaluate(
    body: EvaluateIn,
    bundler: ContextBundler = Depends(get_bundler),
    ctx: RequestContext = Depends(requires(Scope.MEMORY_READ)),
) -> ContextBundle:
    query = BundleQuery(
        query=body.query, agent_id=body.agent_id, user_id=body.user_id,
        session_id=body.session_id, k=body.k, token_budget=body.token_budget,
        history=tuple(Message(t.role, t.content) for t in body.history),
        persona=DEFAULT_PERSONA if body.persona is None else body.persona,
        as_of=body.as_of.isoformat() if isinstance(body.as_of, date) else body.as_of,
    )
    return await asyncio.to_thread(bundler.evaluate, query, context=ctx)


@router.post("/feedback", response_model=FeedbackOutcome)
async def feedback(
    body: FeedbackIn,
    bundler: ContextBundler = Depends(get_bundler),
    ctx: RequestContext = Depends(requires(Scope.MEMORY_WRITE)),
) -> FeedbackOutcome:
    return await asyncio.to_thread(
        bundler.feedback, body.bundle_id, score=body.score, helpful=body.helpful,
        unhelpful=body.unhelpful, context=ctx)

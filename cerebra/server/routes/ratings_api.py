"""Ratings API: GET /api/ratings (the tenant's Bradley–Terry leaderboard with intervals),
GET /api/competitions and GET /api/competitions/{competition_id} (judged competitions).

Everything is of the caller's tenant (from its credentials); another tenant's competition
is a 404 like one that never existed. Logic lives in cerebra.judging.store.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from cerebra.auth.principal import Scope
from cerebra.context import RequestContext
from cerebra.judging.store import MAX_CATEGORY, JudgingStore
from cerebra.server.auth import requires
from cerebra.server.openapi_doc import error_response

router = APIRouter(prefix="/api", tags=["ratings"])


async def get_judging_store(request: Request) -> JudgingStore:
    store = getattr(request.app.state, "judging_store", None)
    if not isinstance(store, JudgingStore):
        store = JudgingStore(request.app.state.brain.engine)
        request.app.state.judging_store = store
    return store


class RatingOut(BaseModel):
    contestant: str
    theta: float  # log-odds strength, mean zero over the contestants
    elo: float  # 1000 + 400·θ/ln 10
    low: float
    high: float
    elo_low: float
    elo_high: float
    comparisons: int
    wins: float  # ties count ½


class LeaderboardOut(BaseModel):
    level: float
    intervals: str  # how the intervals were made
    comparisons: int
    category: str | None
    ratings: list[RatingOut]


class CompetitionSummaryOut(BaseModel):
    id: str
    prompt: str
    judge: str
    winner_id: str | None  # None: a tie
    rationale: str
    agreement: float | None  # position-swap agreement in [0, 1]
    category: str
    failures: list[str]
    created_at: float
    contestants: list[str]


class CompetitionListOut(BaseModel):
    total: int
    competitions: list[CompetitionSummaryOut]


class EntryOut(BaseModel):
    contestant_id: str
    kind: str
    model: str
    answer: str
    score: float
    error: str
    trace_id: str


class ComparisonOut(BaseModel):
    a: str
    b: str
    outcome: str  # a | b | tie


class CompetitionOut(CompetitionSummaryOut):
    entries: list[EntryOut]
    comparisons: list[ComparisonOut]


@router.get("/ratings", response_model=LeaderboardOut)
async def leaderboard(
    category: str | None = Query(default=None, max_length=MAX_CATEGORY,
                                 description="only comparisons of this category"),
    bootstrap: int = Query(default=200, ge=0, le=2000,
                           description="bootstrap resamples (0: normal approximation)"),
    level: float = Query(default=0.95, ge=0.5, le=0.999, description="interval level"),
    seed: int = Query(default=0, ge=0, le=2**32 - 1),
    store: JudgingStore = Depends(get_judging_store),
    ctx: RequestContext = Depends(requires(Scope.RATINGS_READ)),
) -> dict[str, Any]:
    """Bradley–Terry ratings of the tenant's contestants, strongest first."""
    board = await asyncio.to_thread(store.leaderboard, ctx, category=category,
                                    n_boot=bootstrap, level=level, seed=seed)
    return {**board.to_dict(), "category": category}


@router.get("/competitions", response_model=CompetitionListOut)
async def list_competitions(
    contestant: str | None = Query(default=None, max_length=200),
    limit: int = Query(default=50, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=2**31 - 1),
    store: JudgingStore = Depends(get_judging_store),
    ctx: RequestContext = Depends(requires(Scope.RATINGS_READ)),
) -> dict[str, Any]:
    """The tenant's judged competitions, newest first (without the answers)."""
    found = await asyncio.to_thread(store.list_competitions, ctx, limit=limit, offset=offset,
                                    contestant=contestant)
    total = await asyncio.to_thread(store.count_competitions, ctx)
    return {"total": total, "competitions": found}


@router.get("/competitions/{competition_id}", response_model=CompetitionOut,
            responses={404: error_response(
                404, "no competition of the caller's tenant has this id")})
async def show_competition(
    competition_id: str,
    store: JudgingStore = Depends(get_judging_store),
    ctx: RequestContext = Depends(requires(Scope.RATINGS_READ)),
) -> dict[str, Any]:
    """One competition: each contestant's answer and score, and the pairwise results."""
    return await asyncio.to_thread(store.get_competition, ctx, competition_id)

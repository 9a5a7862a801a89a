"""The promotion rule: when the evaluation gate promotes a candidate — a significant gain on
the task's held-out items and no guard regression past tolerance. One class for the gate,
the workflows that name it (`promotion:`) and the API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PromotionRule(BaseModel):
    """Defaults: alpha 0.05 (one-sided, candidate better), a gain of at least 2 points of
    accuracy (or of net judged wins), no guard suite losing more than 2 points, perplexity of
    general text up by at most 10 %."""

    model_config = ConfigDict(extra="forbid", strict=True)

    alpha: float = Field(default=0.05, gt=0, lt=0.5,
                         description="significance of the paired test, one-sided")
    min_gain: float = Field(default=2.0, ge=0, le=100,
                            description="accuracy gain needed, in points")
    guard_tolerance: float = Field(default=2.0, ge=0, le=100,
                                   description="largest guard-suite drop allowed, in points")
    ppl_tolerance: float = Field(default=0.10, ge=0, le=10,
                                 description="largest relative perplexity rise allowed")

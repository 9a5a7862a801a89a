"""A/B comparisons for the drift page: prompt versions (the A/B tests of cerebra.prompts.ab
and their recorded outcomes) and models (the feedback each model's answers got in a scope,
each model against the one that answered most), each with its significance test — the
tests of cerebra.prompts.ab.compare_samples, reused — and the judged Bradley–Terry ratings
of cerebra.judging where competitions were run."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from cerebra.context import RequestContext
from cerebra.observability.drift_data import DriftData, Window
from cerebra.prompts.ab import ABTests, compare_samples

MAX_MODELS = 10  # models compared per scope (the most used)


def prompt_comparisons(engine: Engine, context: RequestContext, *, name: str | None = None,
                       alpha: float = 0.05) -> list[dict[str, Any]]:
    """Every A/B test of the tenant (of template `name`): its arms and their comparison."""
    tests = ABTests(engine)
    out = []
    for test in tests.list(name, context=context):
        found = tests.compare(test.id, alpha=alpha, context=context)
        out.append({"test_id": test.id, "name": test.name, "a": f"v{test.version_a}",
                    "b": f"v{test.version_b}", "split": test.split, **found.to_dict()})
    return out


def model_comparisons(engine: Engine, context: RequestContext, scope: str, window: Window, *,
                      alpha: float = 0.05) -> list[dict[str, Any]]:
    """Each model's feedback in `scope` and `window` against the most used model's."""
    by_model = DriftData(engine).quality_by_model(context.tenant_id, scope, window)
    ranked = sorted(by_model, key=lambda m: (-len(by_model[m]), m))[:MAX_MODELS]
    if len(ranked) < 2:
        return []
    base = ranked[0]
    return [{"a": base, "b": other, **compare_samples(by_model[base], by_model[other],
                                                      alpha=alpha).to_dict()}
            for other in ranked[1:]]


def judged_ratings(engine: Engine, context: RequestContext) -> dict[str, Any] | None:
    """The tenant's Bradley–Terry leaderboard with intervals (None: nothing judged yet)."""
    from cerebra.judging.store import JudgingStore

    store = JudgingStore(engine)
    if not store.comparisons(context):
        return None
    return store.leaderboard(context).to_dict()

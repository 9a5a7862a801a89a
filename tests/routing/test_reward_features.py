"""Reward direction and bounds, and prompt feature extraction."""

from __future__ import annotations

import pytest

from cerebra.errors import InvalidInput
from cerebra.models.base import GenerationRequest, Message
from cerebra.routing.features import PromptFeatures, detect_task, extract_features
from cerebra.routing.reward import RewardConfig, RewardWeights, compute_reward


def test_reward_is_higher_for_better_quality_lower_cost_lower_latency() -> None:
    cfg = RewardConfig(cost_ceiling_usd=0.01, latency_ceiling_ms=2000)
    base = compute_reward(0.7, 0.005, 1000, cfg)
    assert compute_reward(0.9, 0.005, 1000, cfg) > base  # better quality
    assert compute_reward(0.7, 0.001, 1000, cfg) > base  # cheaper
    assert compute_reward(0.7, 0.005, 200, cfg) > base  # faster
    assert compute_reward(0.7, 0.009, 1000, cfg) < base  # dearer
    assert compute_reward(0.7, 0.005, 1900, cfg) < base  # slower


def test_reward_bounds_and_extremes() -> None:
    cfg = RewardConfig(cost_ceiling_usd=0.01, latency_ceiling_ms=1000)
    assert compute_reward(1.0, 0.0, 0.0, cfg) == pytest.approx(1.0)
    assert compute_reward(0.0, 1.0, 10_000, cfg) == pytest.approx(0.0)
    for q in (0.0, 0.3, 1.0):
        for cost in (0.0, 0.02, 5.0):
            assert 0.0 <= compute_reward(q, cost, 50_000, cfg) <= 1.0


def test_reward_weights_choose_what_matters() -> None:
    quality_only = RewardConfig(RewardWeights(quality=1, cost=0, latency=0))
    assert compute_reward(0.8, 100.0, 1e9, quality_only) == pytest.approx(0.8)
    cost_only = RewardConfig(RewardWeights(quality=0, cost=1, latency=0), cost_ceiling_usd=1.0)
    assert compute_reward(0.0, 0.25, 0.0, cost_only) == pytest.approx(0.75)


@pytest.mark.parametrize("quality", [-0.1, 1.5, float("nan")])
def test_reward_rejects_quality_out_of_range(quality: float) -> None:
    with pytest.raises(InvalidInput) as err:
        compute_reward(quality, 0.0, 0.0)
    assert err.value.field == "quality"


def test_reward_config_validation() -> None:
    with pytest.raises(InvalidInput):
        RewardWeights(quality=-1)
    with pytest.raises(InvalidInput):
        RewardWeights(0, 0, 0)
    with pytest.raises(InvalidInput):
        RewardConfig(cost_ceiling_usd=0)
    cfg = RewardConfig.from_dict({"weights": {"quality": 2, "cost": 1, "latency": 0}})
    assert RewardConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(InvalidInput):
        RewardConfig.from_dict({"weights": {"speed": 1}})


def test_task_detection() -> None:
    assert detect_task("Fix this python bug in my function") == "code"
    assert detect_task("Solve the equation 3x + 4 = 10") == "math"
    assert detect_task("Please summarize this article") == "summarize"
    assert detect_task("Translate 'hello' in French") == "translate"
    assert detect_task("Write a poem about rain") == "creative"
    assert detect_task("How was your day?") == "chat"


def test_extract_features_from_chat_and_override() -> None:
    request = GenerationRequest(messages=(
        Message("system", "You are helpful."),
        Message("user", "Hi"),
        Message("assistant", "Hello!"),
        Message("user", "Can you refactor this code?"),
    ))
    f = extract_features(request)
    assert f.task == "code" and f.turns == 2 and f.question
    vec = f.vector()
    assert vec.shape == (PromptFeatures.dimension(),) and vec[0] == 1.0
    assert vec.min() >= 0.0 and vec.max() <= 1.0
    forced = extract_features(GenerationRequest(prompt="x" * 8000, extra={"task_type": "math"}))
    assert forced.task == "math" and forced.tokens == 2000 and forced.vector()[2] == 1.0
    with pytest.raises(InvalidInput) as err:
        extract_features(GenerationRequest(prompt="x", extra={"task_type": "dance"}))
    assert err.value.field == "task_type"

"""Effect checks of the agents settings: each threshold of a career moves the title an
agent's record earns (AgentRegistry() on the configured database)."""

from __future__ import annotations

from collections.abc import Sequence

from cerebra.agents import AgentRegistry
from tests.effects.base import Env, effect


def _titles(env: Env, outcomes: Sequence[bool | float], **values: str) -> list[str]:
    env.set(**values)
    registry = AgentRegistry()
    if registry.exists("a"):
        registry.delete("a")
    registry.ensure("a")
    return [registry.record("a", outcome).title for outcome in outcomes]


@effect("CEREBRA_AGENTS__CONFIDENCE_Z")
def _z(env: Env) -> None:
    # 3 of 3: lower bound 0.44 at z 1.96, 0.62 at z 1.0
    rules = {"CEREBRA_AGENTS__PROMOTE_MIN_RESULTS": "3"}
    assert _titles(env, [True] * 3, **rules)[-1] == "novice"
    env.unset()
    assert _titles(env, [True] * 3, CEREBRA_AGENTS__CONFIDENCE_Z="1.0", **rules)[-1] \
        == "promoted"


@effect("CEREBRA_AGENTS__PROMOTE_MIN_RESULTS")
def _promote_min(env: Env) -> None:
    assert _titles(env, [True] * 6, CEREBRA_AGENTS__PROMOTE_MIN_RESULTS="6")[4:] == [
        "novice", "promoted"]


@effect("CEREBRA_AGENTS__PROMOTE_LOWER_BOUND")
def _promote_lower(env: Env) -> None:  # 5 of 5: lower bound 0.57
    assert _titles(env, [True] * 5, CEREBRA_AGENTS__PROMOTE_LOWER_BOUND="0.6")[-1] == "novice"


@effect("CEREBRA_AGENTS__EXPERT_MIN_RESULTS")
def _expert_min(env: Env) -> None:
    titles = _titles(env, [True] * 10, CEREBRA_AGENTS__EXPERT_MIN_RESULTS="10",
                     CEREBRA_AGENTS__EXPERT_LOWER_BOUND="0.7")
    assert titles[8:] == ["promoted", "expert"]  # 10 of 10: lower bound 0.72


@effect("CEREBRA_AGENTS__EXPERT_LOWER_BOUND")
def _expert_lower(env: Env) -> None:  # 5 of 5: lower bound 0.57
    assert _titles(env, [True] * 5, CEREBRA_AGENTS__EXPERT_MIN_RESULTS="5",
                   CEREBRA_AGENTS__EXPERT_LOWER_BOUND="0.55")[-1] == "expert"


@effect("CEREBRA_AGENTS__DEMOTE_MIN_RESULTS")
def _demote_min(env: Env) -> None:
    assert _titles(env, [False] * 4, CEREBRA_AGENTS__DEMOTE_MIN_RESULTS="4")[-1] == "demoted"


@effect("CEREBRA_AGENTS__DEMOTE_UPPER_BOUND")
def _demote_upper(env: Env) -> None:  # 0 of 5: upper bound 0.43
    assert _titles(env, [False] * 5, CEREBRA_AGENTS__DEMOTE_UPPER_BOUND="0.4")[-1] == "novice"


@effect("CEREBRA_AGENTS__SANDBOX_MIN_RESULTS")
def _sandbox_min(env: Env) -> None:  # 0 of 5: upper bound 0.43
    assert _titles(env, [False] * 5, CEREBRA_AGENTS__SANDBOX_MIN_RESULTS="5",
                   CEREBRA_AGENTS__SANDBOX_UPPER_BOUND="0.45")[-1] == "sandboxed"


@effect("CEREBRA_AGENTS__SANDBOX_UPPER_BOUND")
def _sandbox_upper(env: Env) -> None:  # 0 of 10: upper bound 0.28
    assert _titles(env, [False] * 10, CEREBRA_AGENTS__SANDBOX_UPPER_BOUND="0.25")[-1] \
        == "demoted"

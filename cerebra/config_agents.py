"""Settings groups of the agents layer: agents' careers (title thresholds) and plugins.
Kept apart from cerebra/config_groups.py (the runtime's groups) by layer; both use its
field helper, and `cerebra.config.GROUPS` names them all."""

from __future__ import annotations

from pathlib import Path

from cerebra.config_groups import _field, _Group


class AgentsSettings(_Group):
    """Agents' careers (cerebra.agents): titles follow a confidence bound on an agent's
    mean score (Wilson), never a raw average, and only after a minimum number of results."""

    confidence_z: float = _field(
        1.96, gt=0, le=5,
        description="z of the Wilson interval on an agent's mean score (1.96: 95 %)",
    )
    promote_min_results: int = _field(
        5, ge=1, description="results an agent needs before it can be promoted",
    )
    promote_lower_bound: float = _field(
        0.5, ge=0, le=1,
        description="a novice (or demoted) agent whose lower bound reaches this is promoted",
    )
    expert_min_results: int = _field(
        20, ge=1, description="results an agent needs before it can become an expert",
    )
    expert_lower_bound: float = _field(
        0.75, ge=0, le=1, description="an agent whose lower bound reaches this is an expert",
    )
    demote_min_results: int = _field(
        5, ge=1, description="results an agent needs before it can be demoted",
    )
    demote_upper_bound: float = _field(
        0.5, ge=0, le=1,
        description="an agent whose upper bound falls below this is demoted",
    )
    sandbox_min_results: int = _field(
        10, ge=1, description="results an agent needs before it can be sandboxed",
    )
    sandbox_upper_bound: float = _field(
        0.3, ge=0, le=1,
        description="an agent whose upper bound falls below this is sandboxed (it runs only "
        "in competitions, never for users, until its lower bound earns a promotion)",
    )


class PluginsSettings(_Group):
    """Plugins (cerebra.plugins): a folder of cerebra_*.py files and cerebra_*/ packages, and
    the installed `cerebra.plugins` entry points, registering tools, agents, judges, model
    kinds and policies. Plugins run with the process's rights: only load code you trust."""

    enabled: bool = _field(
        False, description="load plugins when a Brain (the server, `ask`, `chat`) starts "
        "(off: none are imported)",
    )
    folder: Path | None = _field(
        None, description="the plugins folder (cerebra_NAME.py with an optional "
        "cerebra_NAME.meta.json, or cerebra_NAME/ with meta.json); default: home/plugins",
    )
    entry_points: bool = _field(
        True, description="also load the installed packages' `cerebra.plugins` entry points",
    )
    watch: bool = _field(
        False, description="reload plugins when files of the folder change (hot reload, "
        "while the Brain runs)",
    )

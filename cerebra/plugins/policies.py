"""PluginPolicies: the policy engines plugins registered, evaluated as one PolicyEngine.

It reads the manager's policies at each call, so a reload that adds, replaces or removes a
plugin's policy applies to the next request (a request waits while a reload runs, so none
is evaluated without the policies being re-registered). The most severe decision wins (combine()); a
plugin engine that raises denies (fail closed, like OPA without `fail_open`) under the rule
`plugin:<name>:error`, since a policy that cannot decide must not let text through.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from cerebra.governance.policy import Action, Decision, PolicyContext, combine

if TYPE_CHECKING:
    from cerebra.governance.constitution import Stage
    from cerebra.plugins.manager import PluginManager

log = logging.getLogger("cerebra.plugins")


class PluginPolicies:
    """A PolicyEngine over the plugins' engines (none registered: allow)."""

    name = "plugins"

    def __init__(self, manager: PluginManager) -> None:
        self.manager = manager

    def evaluate(self, stage: Stage, text: str, context: PolicyContext) -> Decision:
        decisions = []
        for engine, plugin in self.manager.current_policies():
            try:
                decisions.append(engine.evaluate(stage, text, context))
            except Exception as exc:  # a broken policy refuses rather than lets through
                log.exception("policy of plugin %s failed", plugin)
                decisions.append(Decision(
                    Action.DENY, f"plugin:{plugin}:error",
                    f"the policy of plugin {plugin} failed: {type(exc).__name__}"))
        return combine(decisions)

"""The OPA policy engine: decisions from Open Policy Agent's HTTP data API.

Each evaluation is `POST {opa_url}/v1/data/{path}` with `{"input": {"stage", "text",
"context", "constitution_hash"}}`; OPA answers `{"result": …}`. A result may be a boolean
(allow or deny) or an object: `{"allow": bool}` or `{"action": "allow|deny|redact|flag"}`,
with optional `rule`, `reason`, `text` (the redacted text, for redact) and `disclaimers`. No
`result` (the rule is undefined: no policy loaded at that path), an error status or OPA
being unreachable is a failure: denied (rule `opa:unavailable`) unless the engine fails
open, when the text is allowed and flagged.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from cerebra.governance.constitution import Stage
from cerebra.governance.policy import Action, Decision, PolicyContext

log = logging.getLogger("cerebra.governance.opa")

UNAVAILABLE = "opa:unavailable"


class OPAEngine:
    name = "opa"

    def __init__(self, url: str, path: str = "cerebra/policy", *, fail_open: bool = False,
                 timeout_s: float = 2.0, constitution_hash: str | None = None) -> None:
        self.endpoint = f"{url.rstrip('/')}/v1/data/{path.strip('/')}"
        self.rule_prefix = f"opa:{path.strip('/')}"
        self.fail_open = fail_open
        self.constitution_hash = constitution_hash
        self._client = httpx.Client(timeout=timeout_s)

    def evaluate(self, stage: Stage, text: str, context: PolicyContext) -> Decision:
        body = {"input": {"stage": stage, "text": text, "context": context.to_dict(),
                          "constitution_hash": self.constitution_hash}}
        try:
            response = self._client.post(self.endpoint, json=body)
        except httpx.HTTPError as exc:
            return self._failed(f"OPA at {self.endpoint} is unreachable: {exc}")
        if response.status_code != 200:
            return self._failed(f"OPA answered HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            return self._failed("OPA's answer is not JSON")
        if not isinstance(answer, dict) or "result" not in answer:
            return self._failed(f"no policy decision at {self.endpoint} (the rule is undefined)")
        return self._decision(answer["result"], text)

    def _decision(self, result: Any, text: str) -> Decision:
        if isinstance(result, bool):
            return Decision(Action.ALLOW if result else Action.DENY,
                            "" if result else self.rule_prefix,
                            "" if result else "denied by the OPA policy")
        if not isinstance(result, dict):
            return self._failed(f"OPA's result is neither a boolean nor an object: {result!r}")
        action_text = result.get("action")
        if action_text is None:
            allow = result.get("allow")
            if not isinstance(allow, bool):
                return self._failed("OPA's result has neither `action` nor a boolean `allow`")
            action_text = "allow" if allow else "deny"
        try:
            action = Action(str(action_text))
        except ValueError:
            return self._failed(f"OPA's action {action_text!r} is not allow, deny, redact or flag")
        rule = str(result.get("rule") or ("" if action is Action.ALLOW else self.rule_prefix))
        new_text = result.get("text")
        if action is Action.REDACT and not isinstance(new_text, str):
            return self._failed("OPA asked to redact but gave no `text`")
        notes = result.get("disclaimers") or ()
        return Decision(action, rule, str(result.get("reason") or ""),
                        new_text if action is Action.REDACT else None,
                        fired=(rule,) if rule else (),
                        disclaimers=tuple(str(n) for n in notes) if isinstance(notes, list)
                        else ())

    def _failed(self, why: str) -> Decision:
        log.warning("policy engine failure: %s", why)
        if self.fail_open:
            return Decision(Action.FLAG, UNAVAILABLE, f"{why}; allowed (policy.opa_fail_open)")
        return Decision(Action.DENY, UNAVAILABLE, f"{why}; refused (the policy engine fails "
                        "closed)")

    def close(self) -> None:
        self._client.close()

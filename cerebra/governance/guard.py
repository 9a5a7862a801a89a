"""The policy guard: the constitution and the policy engine on Brain's path.

Before generation it refuses a model or tool the caller's roles or agent may not use, caps
max_tokens at the constitution's, and evaluates the prompt and every message (deny → a 403
`policy_denied` error naming the rule; redact → the query with the redacted texts; flag →
an annotation). On output it evaluates the text so far as it streams: a deny stops the
stream before the offending piece is sent, a redaction rewrites the text (Brain holds back
`holdback` characters so a match spanning pieces is redacted before it is sent), and the
final text gets the disclaimers it needs. Every rule that fires is logged and handed to
`audit` (a callable `(action, details, context)`) when set: `connect_audit` points it at
the Brain's audit log (a "policy.decision" event) and stamps that log's events with the
constitution's hash.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from cerebra.auth.principal import Role
from cerebra.context import RequestContext
from cerebra.exchange import Query
from cerebra.governance.constitution import Loaded, Permissions, PermissionTable, Stage
from cerebra.governance.policy import Action, Decision, PolicyContext, PolicyEngine
from cerebra.governance.versions import set_active_hash
from cerebra.guards import BaseGuard, Refused

if TYPE_CHECKING:
    from cerebra.config import Settings
    from cerebra.governance.audit_log import AuditLog

log = logging.getLogger("cerebra.policy")

AuditHook = Callable[[str, dict[str, Any], RequestContext], None]


class PolicyDenied(Refused):
    """A policy rule refused the request or stopped its output (403)."""

    code = "policy_denied"

    def __init__(self, message: str, *, rule: str, stage: str, field: str | None) -> None:
        super().__init__(message, guard="policy", field=field)
        self.rule = rule
        self.extra.update(rule=rule, stage=stage)


class PolicyGuard(BaseGuard):
    name = "policy"
    holdback = 64  # characters of streamed output kept back until the text after them is seen

    def __init__(self, engine: PolicyEngine, *, constitution: Loaded | None = None,
                 default_model: str | None = None, default_max_tokens: int | None = None,
                 audit: AuditHook | None = None) -> None:
        self.engine = engine
        self.constitution = constitution
        self.default_model = default_model
        self.default_max_tokens = default_max_tokens
        self.audit = audit
        self.constitution_hash = constitution.hash if constitution else None

    # -- before generation --------------------------------------------------------------
    def before(self, query: Query) -> Query:
        query = self._check_permissions(query)
        query = self._cap_tokens(query)
        return self._check_input(query)

    def _check_permissions(self, query: Query) -> Query:
        if self.constitution is None:
            return query
        table = self.constitution.doc.permissions
        if not table.roles and not table.agents:
            return query  # no role or agent is restricted
        model = query.model or self.default_model
        tools = _tool_names(query.extra.get("tools"))
        principal = query.context.principal
        roles = role_names(principal.roles) if principal else ()
        agents = {a for a in (principal.agent_id if principal else "", query.agent_id) if a}
        for who, perms in permission_checks(table, roles, agents):
            self._require(query, model, tools, perms, who)
        return query

    def _require(self, query: Query, model: str | None, tools: list[str],
                 perms: list[Permissions], who: str) -> None:
        if model is not None and not any(_allows(p.models, model) for p in perms):
            self._deny(query, "input", Decision(Action.DENY, f"permissions:{who}",
                                                f"{who} may not use the model {model!r}"),
                       field="model")
        for tool in tools:
            if not any(_allows(p.tools, tool) for p in perms):
                self._deny(query, "input", Decision(Action.DENY, f"permissions:{who}",
                                                    f"{who} may not use the tool {tool!r}"),
                           field="tools")

    def _cap_tokens(self, query: Query) -> Query:
        cap = self.constitution.doc.max_tokens if self.constitution else None
        asked = query.max_tokens if query.max_tokens is not None else self.default_max_tokens
        if cap is None or asked is None or asked <= cap:
            return query
        return self.annotate(replace(query, max_tokens=cap),
                             f"max_tokens capped at {cap} by the constitution", asked=asked)

    def _check_input(self, query: Query) -> Query:
        ctx = self._context(query, final=True)
        seen: dict[str, Decision] = {}

        def decide(text: str, field: str) -> str:
            if text not in seen:
                seen[text] = self.engine.evaluate("input", text, ctx)
            d = seen[text]
            if d.action is Action.DENY:
                self._deny(query, "input", d, field=field)
            return d.text if d.action is Action.REDACT and d.text is not None else text

        prompt = decide(query.prompt, "prompt")
        history = [decide(m.content, "history") for m in query.history]
        messages = (None if query.messages is None else
                    [decide(m.content, "messages") for m in query.messages])
        fired = [d for d in seen.values() if d.action in (Action.REDACT, Action.FLAG)]
        if not fired:  # nothing to rewrite: the query as it came (no copies per request)
            return query
        query = replace(
            query, prompt=prompt,
            history=tuple(replace(m, content=t) for m, t in zip(query.history, history,
                                                                   strict=True)),
            messages=(None if messages is None or query.messages is None else
                      tuple(replace(m, content=t) for m, t in zip(query.messages, messages,
                                                                     strict=True))))
        for d in fired:
            self._record(query, "input", d)
            query = self.annotate(query, f"{d.action.value}: {d.reason}", rule=d.rule,
                                  action=d.action.value, fired=list(d.fired))
        return query

    # -- output -------------------------------------------------------------------------
    def on_output(self, query: Query, text: str, final: bool) -> str | None:
        d = self.engine.evaluate("output", text, self._context(query, final))
        if d.action is Action.DENY:
            self._deny(query, "output", d, field="output")
        out = d.text if d.action is Action.REDACT and d.text is not None else text
        if final:
            if d.action in (Action.REDACT, Action.FLAG):
                self._record(query, "output", d)
            if d.disclaimers:
                out = out.rstrip() + "\n\n" + "\n".join(d.disclaimers)
        return None if out == text else out

    # -- helpers ------------------------------------------------------------------------
    def _context(self, query: Query, final: bool) -> PolicyContext:
        principal = query.context.principal
        return PolicyContext(
            tenant_id=query.tenant_id, user_id=query.user_id,
            agent_id=(principal.agent_id if principal and principal.agent_id
                      else query.agent_id),
            roles=role_names(principal.roles) if principal else (),
            model=query.model or self.default_model, final=final, prompt=query.prompt,
        )

    def _deny(self, query: Query, stage: Stage, d: Decision, *, field: str | None) -> None:
        self._record(query, stage, d)
        raise PolicyDenied(f"refused by policy rule {d.rule}: {d.reason}", rule=d.rule,
                           stage=stage, field=field)

    def _record(self, query: Query, stage: Stage, d: Decision) -> None:
        details: dict[str, Any] = {
            "stage": stage, **d.to_dict(), "engine": self.engine.name,
            "tenant_id": query.tenant_id, "user_id": query.user_id,
            "agent_id": query.agent_id, "model": query.model,
            "constitution_hash": self.constitution_hash,
        }
        level = logging.WARNING if d.action is Action.DENY else logging.INFO
        log.log(level, "policy %s on %s: %s (%s)", d.action.value, stage, d.rule, d.reason,
                extra={"policy": details})
        if self.audit is not None:
            try:
                self.audit("policy.decision", details, query.context)
            except Exception:  # the audit log's failure must not change the decision
                log.exception("handing the policy decision to the audit log failed")


def permission_checks(table: PermissionTable, roles: Iterable[str],
                      agents: Iterable[str]) -> list[tuple[str, list[Permissions]]]:
    """The permission checks a caller with `roles` acting as `agents` must pass, each as
    (who, entries of which one must allow): its roles when every one of them is restricted
    (one must allow), then each restricted agent."""
    out: list[tuple[str, list[Permissions]]] = []
    roles = sorted(roles)
    listed = [r for r in roles if r in table.roles]
    if listed and len(listed) == len(roles):  # every role restricted: one must allow
        out.append((f"role:{'+'.join(listed)}", [table.roles[r] for r in listed]))
    for agent in sorted(set(agents)):
        if agent in table.agents:
            out.append((f"agent:{agent}", [table.agents[agent]]))
    return out


@lru_cache(maxsize=64)
def role_names(roles: frozenset[Role]) -> tuple[str, ...]:
    """A principal's roles as sorted names (a few sets of roles recur on every request)."""
    return tuple(sorted(r.value for r in roles))


def _allows(patterns: list[str] | None, name: str) -> bool:
    return patterns is None or any(fnmatchcase(name, p) for p in patterns)


def _tool_names(tools: object) -> list[str]:
    if not isinstance(tools, Iterable) or isinstance(tools, str | bytes):
        return []
    names = []
    for tool in tools:
        if isinstance(tool, dict):
            fn = tool.get("function")
            name = fn.get("name") if isinstance(fn, dict) else tool.get("name")
            if isinstance(name, str):
                names.append(name)
    return names


def build_policy_guard(settings: Settings) -> PolicyGuard | None:
    """The guard the `policy` settings switch on (None when there is nothing to enforce):
    the configured or active constitution, verified (a bad signature is refused), evaluated
    by the built-in engine or OPA. Records the active hash for the audit log."""
    from cerebra.errors import CerebraError
    from cerebra.governance.policy import BuiltinEngine
    from cerebra.governance.versions import load_configured

    p = settings.policy
    loaded = load_configured(p.constitution, settings.home, require_signature=p.require_signature,
                             trusted_keys=list(p.trusted_keys))
    engine: PolicyEngine
    if p.engine == "opa":
        if not p.opa_url:
            raise CerebraError("policy.engine is opa but policy.opa_url is not set",
                               field="policy.opa_url")
        from cerebra.governance.opa import OPAEngine

        engine = OPAEngine(p.opa_url, p.opa_path, fail_open=p.opa_fail_open,
                           constitution_hash=loaded.hash if loaded else None)
    elif loaded is None:
        return None
    else:
        engine = BuiltinEngine(loaded.doc)
    set_active_hash(loaded.hash if loaded else None)
    default_model = (settings.router.name if settings.router.strategy
                     else settings.model.name if settings.model.embedded else None)
    if loaded is not None:
        log.info("constitution %s in force (%s, signer %s)", loaded.doc.name, loaded.hash[:24],
                 loaded.signer or "none")
    return PolicyGuard(engine, constitution=loaded, default_model=default_model,
                       default_max_tokens=settings.generation.max_tokens)


def connect_audit(guards: Iterable[object], audit: AuditLog) -> None:
    """Policy decisions of the policy guards among `guards` go to `audit` (one
    "policy.decision" event each, outcome = the action), and its events carry the active
    constitution's hash."""
    from cerebra.governance.audit_setup import record_action

    def hook(action: str, details: dict[str, Any], context: RequestContext) -> None:
        record_action(audit, context, action, str(details.get("rule", "")),
                      outcome=str(details.get("action", "")), details=details)

    for guard in guards:
        if isinstance(guard, PolicyGuard):
            if guard.constitution_hash:
                audit.constitution_hash = guard.constitution_hash
            if guard.audit is None:
                guard.audit = hook

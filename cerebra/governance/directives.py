"""Governance directives: what the policy in force would enforce for one caller, as data.

An outside agent that runs its own model is not behind Cerebra's policy guard, so a context
bundle tells it the rules instead: the constitution's denied topics and patterns, its PII
handling, its token cap and disclaimers, and the permission checks the caller (its roles,
its agent) must pass for models and tools — the same checks PolicyGuard applies
(`permission_checks`). `Directives.allows_model` / `allows_tool` answer them for a name.
With OPA as the engine the constitution is still what is described here; without one there
is nothing to enforce and the directives say so (`enforced` false).
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

from pydantic import BaseModel, Field

from cerebra.governance.constitution import Loaded
from cerebra.governance.guard import permission_checks


class TopicDirective(BaseModel):
    id: str
    keywords: list[str]
    stages: list[str]
    action: str = Field(description="deny: refuse; flag: allow and record")
    reason: str


class PatternDirective(BaseModel):
    id: str
    pattern: str = Field(description="a Python regular expression")
    stages: list[str]
    action: str
    reason: str


class DisclaimerDirective(BaseModel):
    id: str
    text: str
    keywords: list[str] = Field(description="append when the prompt or answer mentions one")
    always: bool


class PermissionDirective(BaseModel):
    """One check the caller must pass: a model (tool) is allowed when any entry's list
    allows it (shell-style patterns); a null list allows everything."""

    who: str = Field(description="role:<names> or agent:<id>")
    models: list[list[str] | None]
    tools: list[list[str] | None]


class Directives(BaseModel):
    enforced: bool = Field(description="whether a constitution is in force at all")
    constitution: str | None = None
    version: str | int | None = None
    hash: str | None = Field(default=None, description="sha3-512 of the constitution")
    denied_topics: list[TopicDirective] = Field(default_factory=list)
    denied_patterns: list[PatternDirective] = Field(default_factory=list)
    pii: dict[str, str] = Field(default_factory=dict,
                                description="PII kind → redact or refuse (unlisted: allowed)")
    pii_stages: list[str] = Field(default_factory=list)
    max_tokens: int | None = None
    disclaimers: list[DisclaimerDirective] = Field(default_factory=list)
    permissions: list[PermissionDirective] = Field(
        default_factory=list, description="every check must pass")

    def allows_model(self, name: str) -> bool:
        return all(any(_allows(p, name) for p in check.models) for check in self.permissions)

    def allows_tool(self, name: str) -> bool:
        return all(any(_allows(p, name) for p in check.tools) for check in self.permissions)


def _allows(patterns: list[str] | None, name: str) -> bool:
    return patterns is None or any(fnmatchcase(name, p) for p in patterns)


def directives_for(constitution: Loaded | None, roles: Iterable[str],
                   agents: Iterable[str]) -> Directives:
    """What `constitution` enforces for a caller with `roles` acting as `agents`."""
    if constitution is None:
        return Directives(enforced=False)
    doc = constitution.doc
    pii = {k: v.value for k, v in doc.pii.model_dump().items()
           if k != "stages" and v.value != "allow"}
    checks = permission_checks(doc.permissions, roles, agents)
    return Directives(
        enforced=True, constitution=doc.name, version=doc.version, hash=constitution.hash,
        denied_topics=[TopicDirective(id=t.id, keywords=list(t.keywords), stages=list(t.stages),
                                      action=t.action, reason=t.reason)
                       for t in doc.denied_topics],
        denied_patterns=[PatternDirective(id=r.id, pattern=r.pattern, stages=list(r.stages),
                                          action=r.action, reason=r.reason)
                         for r in doc.denied_patterns],
        pii=pii, pii_stages=list(doc.pii.stages) if pii else [], max_tokens=doc.max_tokens,
        disclaimers=[DisclaimerDirective(id=d.id, text=d.text, keywords=list(d.keywords),
                                         always=d.always) for d in doc.disclaimers],
        permissions=[PermissionDirective(who=who, models=[p.models for p in perms],
                                         tools=[p.tools for p in perms])
                     for who, perms in checks],
    )

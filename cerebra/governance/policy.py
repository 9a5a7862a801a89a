"""The policy engine: a decision (allow, deny, redact, flag) on a text at a stage (input or
output), with the rule that fired and why; the built-in engine evaluates the constitution.

`PolicyEngine.evaluate(stage, text, context)` is the one method (sync: guards run inside the
Brain's path). The built-in engine checks, in order: denied patterns (regex), denied topics
(keywords, whole words, case-insensitive), then PII by kind (refuse → deny, redact → the
text with placeholders). The most severe outcome wins (deny > redact > flag > allow); every
rule that fired is listed. On the final output it also names the disclaimers to append.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

from cerebra.governance.constitution import Constitution, PIIAction, Stage
from cerebra.governance.pii import PIIKind, find_pii, redact


class Action(StrEnum):
    ALLOW = "allow"
    FLAG = "flag"
    REDACT = "redact"
    DENY = "deny"


_SEVERITY = {Action.ALLOW: 0, Action.FLAG: 1, Action.REDACT: 2, Action.DENY: 3}


@dataclass(frozen=True)
class Decision:
    action: Action
    rule: str = ""  # the rule that decided (the first of the most severe)
    reason: str = ""
    text: str | None = None  # redact: the text with the matches replaced
    fired: tuple[str, ...] = ()  # every rule that matched
    disclaimers: tuple[str, ...] = ()  # final output: texts to append

    @property
    def allowed(self) -> bool:
        return self.action is not Action.DENY

    def to_dict(self) -> dict[str, object]:
        return {"action": self.action.value, "rule": self.rule, "reason": self.reason,
                "fired": list(self.fired)}


ALLOW = Decision(Action.ALLOW)


@dataclass(frozen=True)
class PolicyContext:
    """Who asks and for what: what an engine may weigh besides the text."""

    tenant_id: str = ""
    user_id: str = ""
    agent_id: str = ""
    roles: tuple[str, ...] = ()
    model: str | None = None
    final: bool = True  # output: the whole answer (False: the text so far of a stream)
    prompt: str = ""  # output: the prompt it answers (disclaimer keywords)
    extra: dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"tenant_id": self.tenant_id, "user_id": self.user_id,
                "agent_id": self.agent_id, "roles": list(self.roles), "model": self.model,
                "final": self.final}


@runtime_checkable
class PolicyEngine(Protocol):
    name: str

    def evaluate(self, stage: Stage, text: str, context: PolicyContext) -> Decision: ...


def combine(decisions: Sequence[Decision]) -> Decision:
    """The most severe decision (the first among equals), listing every rule that fired."""
    if not decisions:
        return ALLOW
    worst = max(decisions, key=lambda d: _SEVERITY[d.action])  # max keeps the first
    fired = tuple(r for d in decisions for r in (d.fired or ((d.rule,) if d.rule else ())))
    return Decision(worst.action, worst.rule, worst.reason, worst.text, fired,
                    tuple(t for d in decisions for t in d.disclaimers))


def keyword_pattern(keywords: Sequence[str]) -> re.Pattern[str]:
    words = sorted((re.escape(k.strip()) for k in keywords if k.strip()), key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(words) + r")(?!\w)", re.IGNORECASE)


class BuiltinEngine:
    """Evaluates a constitution in-process."""

    name = "builtin"

    def __init__(self, constitution: Constitution) -> None:
        self.constitution = constitution
        self._patterns = [(r, re.compile(r.pattern)) for r in constitution.denied_patterns]
        self._topics = [(t, keyword_pattern(t.keywords)) for t in constitution.denied_topics]
        self._disclaimers = [(d, keyword_pattern(d.keywords) if d.keywords else None)
                             for d in constitution.disclaimers]
        pii = constitution.pii
        self._pii = {PIIKind(k): PIIAction(getattr(pii, k)) for k in PIIKind}
        self._pii_stages = set(pii.stages)
        self._pii_kinds = [k for k, a in self._pii.items() if a is not PIIAction.ALLOW]

    def evaluate(self, stage: Stage, text: str, context: PolicyContext) -> Decision:
        decisions: list[Decision] = []
        for rule, rx in self._patterns:
            if stage in rule.stages and rx.search(text):
                decisions.append(Decision(Action(rule.action), f"pattern:{rule.id}",
                                          rule.reason or f"matches the denied pattern {rule.id}"))
        for topic, rx in self._topics:
            if stage in topic.stages and (m := rx.search(text)):
                decisions.append(Decision(Action(topic.action), f"topic:{topic.id}",
                                          topic.reason or f"touches the denied topic {topic.id} "
                                          f"({m.group().lower()!r})"))
        if stage in self._pii_stages:
            decisions.extend(self._pii_decisions(text))
        if stage == "output" and context.final:
            notes = self._disclaimers_for(text, context.prompt)
            if notes:
                decisions.append(Decision(Action.ALLOW, disclaimers=notes))
        return combine(decisions)

    def _pii_decisions(self, text: str) -> list[Decision]:
        if not self._pii_kinds:
            return []
        findings = find_pii(text, self._pii_kinds)
        if not findings:
            return []
        out: list[Decision] = []
        refused = [f for f in findings if self._pii[f.kind] is PIIAction.REFUSE]
        for f in refused[:1]:
            out.append(Decision(Action.DENY, f"pii:{f.kind.value}",
                                f"contains {_what(f.kind)}, which the constitution refuses"))
        redacted = [f for f in findings if self._pii[f.kind] is PIIAction.REDACT]
        if redacted:
            kinds_seen = sorted({f.kind.value for f in redacted})
            out.append(Decision(Action.REDACT, f"pii:{kinds_seen[0]}",
                                f"{', '.join(kinds_seen)} redacted", redact(text, redacted),
                                fired=tuple(f"pii:{k}" for k in kinds_seen)))
        return out

    def _disclaimers_for(self, text: str, prompt: str) -> tuple[str, ...]:
        out = []
        for d, rx in self._disclaimers:
            if d.text in text:
                continue  # already there (the model quoted it, or a second pass)
            if d.always or (rx is not None and (rx.search(text) or rx.search(prompt))):
                out.append(d.text)
        return tuple(out)


def _what(kind: PIIKind) -> str:
    return {
        PIIKind.EMAIL: "an e-mail address", PIIKind.PHONE: "a phone number",
        PIIKind.CARD: "a card number passing the Luhn check",
        PIIKind.IBAN: "an IBAN passing the mod-97 check",
        PIIKind.SECRET: "a key or secret",
    }[kind]

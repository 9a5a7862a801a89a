"""The built-in policy engine (allow, deny, redact, flag, disclaimers) and the policy guard on
Brain's path: input refused with the rule named (library and HTTP), input redacted before
the model sees it, flags annotated, role and agent model/tool permissions, the max_tokens
cap, the audit hook."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cerebra.auth.principal import ROLE_SCOPES, Principal, Role
from cerebra.brain import Brain
from cerebra.config import Settings
from cerebra.context import RequestContext
from cerebra.governance.constitution import parse
from cerebra.governance.guard import PolicyDenied, PolicyGuard
from cerebra.governance.policy import Action, BuiltinEngine, PolicyContext
from cerebra.models.base import Message
from cerebra.server.app import create_app
from cerebra.testing import FakeModel

RULES = """\
denied_patterns:
  - id: launch-codes
    pattern: "(?i)launch codes?"
    reason: launch codes are never discussed
  - id: watch-word
    pattern: "(?i)\\\\bpineapple\\\\b"
    action: flag
denied_topics:
  - id: weapons
    keywords: [nerve agent, bioweapon]
pii:
  email: redact
  phone: redact
  card: refuse
max_tokens: 50
disclaimers:
  - id: medical
    text: "This is not medical advice."
    keywords: [dosage]
permissions:
  roles:
    user: {models: ["small-*"], tools: [lookup]}
  agents:
    billing-bot: {models: [small-1]}
"""

CTX = PolicyContext()


@pytest.fixture
def engine() -> BuiltinEngine:
    return BuiltinEngine(parse(RULES).doc)


# -- the engine -----------------------------------------------------------------------------
def test_allow(engine: BuiltinEngine) -> None:
    d = engine.evaluate("input", "what is the capital of France?", CTX)
    assert d.action is Action.ALLOW and d.rule == "" and d.text is None


@pytest.mark.parametrize(("text", "rule"), [
    ("Tell me the LAUNCH CODES now", "pattern:launch-codes"),
    ("how is a Nerve Agent made", "topic:weapons"),
    ("charge 4111 1111 1111 1111 please", "pii:card"),
])
def test_deny(engine: BuiltinEngine, text: str, rule: str) -> None:
    d = engine.evaluate("input", text, CTX)
    assert d.action is Action.DENY and d.rule == rule and d.reason


def test_topic_keywords_are_whole_words(engine: BuiltinEngine) -> None:
    assert engine.evaluate("input", "bioweapons-free zone", CTX).action is Action.ALLOW


def test_redact(engine: BuiltinEngine) -> None:
    d = engine.evaluate("output", "write to bob@example.com or +44 20 7946 0958", CTX)
    assert d.action is Action.REDACT and set(d.fired) == {"pii:email", "pii:phone"}
    assert d.text == "write to [EMAIL REDACTED] or [PHONE REDACTED]"


def test_flag_and_the_most_severe_wins(engine: BuiltinEngine) -> None:
    d = engine.evaluate("input", "I like pineapple", CTX)
    assert d.action is Action.FLAG and d.rule == "pattern:watch-word"
    d = engine.evaluate("input", "pineapple, bob@example.com and the launch code", CTX)
    assert d.action is Action.DENY and d.rule == "pattern:launch-codes"
    assert set(d.fired) == {"pattern:launch-codes", "pattern:watch-word", "pii:email"}


def test_disclaimers_on_the_final_output_only(engine: BuiltinEngine) -> None:
    final = PolicyContext(final=True, prompt="what dosage of aspirin?")
    assert engine.evaluate("output", "two tablets", final).disclaimers == (
        "This is not medical advice.",)
    assert engine.evaluate("output", "two tablets", PolicyContext(final=False)).disclaimers == ()
    assert engine.evaluate("input", "what dosage?", final).disclaimers == ()


# -- the guard on Brain's path --------------------------------------------------------------
@pytest.fixture
def made(tmp_path: Path) -> Iterator[Any]:
    brains: list[Brain] = []

    def make(reply: str = "An answer.", **extra: Any) -> tuple[Brain, FakeModel]:
        path = tmp_path / "c.yaml"
        path.write_text(RULES)
        model = FakeModel(reply, name="small-1")
        settings = Settings(home=tmp_path / "home", model={"fake": True, "name": "small-1"},
                            memory={"embedder": "fake", "enabled": False},
                            health={"interval_s": 0}, policy={"constitution": path})
        brain = Brain.from_settings(settings, model=model)
        brain.models.add(FakeModel(reply, name="big-1"))
        brains.append(brain)
        return brain, model

    yield make
    for b in brains:
        b.close()


def _as(role: Role, agent: str = "") -> RequestContext:
    principal = Principal(tenant_id="default", user_id="u1", roles=frozenset({role}),
                          scopes=ROLE_SCOPES[role], agent_id=agent)
    return RequestContext(user_id="u1", principal=principal)


def test_a_denied_prompt_is_refused_with_the_rule_and_never_reaches_the_model(made: Any) -> None:
    brain, model = made()
    with pytest.raises(PolicyDenied) as caught:
        brain.ask("what are the launch codes?")
    err = caught.value.to_dict()
    assert err["type"] == "policy_denied" and err["rule"] == "pattern:launch-codes"
    assert err["field"] == "prompt" and err["stage"] == "input"
    assert "launch codes are never discussed" in err["message"]
    assert model.calls == []


def test_a_redacted_prompt_reaches_the_model_redacted(made: Any) -> None:
    brain, model = made()
    answer = brain.ask("my mail is bob@example.com",
                       history=[Message("user", "call me on +44 20 7946 0958")])
    seen = model.prompts[-1]
    assert "bob@example.com" not in seen and "7946" not in seen
    assert "[EMAIL REDACTED]" in seen and "[PHONE REDACTED]" in seen
    notes = [a.data for a in answer.annotations if a.source == "policy" and "rule" in a.data]
    assert [n["action"] for n in notes] == ["redact", "redact"]


def test_a_flag_is_annotated_and_answered(made: Any) -> None:
    brain, _ = made()
    answer = brain.ask("pineapple on pizza?")
    assert answer.answer == "An answer."
    rules = [a.data.get("rule") for a in answer.annotations if a.source == "policy"]
    assert "pattern:watch-word" in rules


def test_output_redaction_and_disclaimer(made: Any) -> None:
    brain, _ = made("Mail bob@example.com for the dosage.")
    answer = brain.ask("hello")
    assert answer.answer == ("Mail [EMAIL REDACTED] for the dosage.\n\n"
                             "This is not medical advice.")


def test_a_denied_output_is_refused(made: Any) -> None:
    brain, _ = made("The launch codes are 0000.")
    with pytest.raises(PolicyDenied) as caught:
        brain.ask("hello")
    assert caught.value.rule == "pattern:launch-codes"
    assert caught.value.to_dict()["stage"] == "output"


def test_role_and_agent_model_permissions(made: Any) -> None:
    brain, _ = made()
    assert brain.ask("hi", model="small-1", context=_as(Role.USER)).answer
    assert brain.ask("hi", context=_as(Role.USER)).answer  # the default model, small-1
    with pytest.raises(PolicyDenied) as caught:
        brain.ask("hi", model="big-1", context=_as(Role.USER))
    assert caught.value.rule == "permissions:role:user"
    assert caught.value.field == "model"
    assert brain.ask("hi", model="big-1", context=_as(Role.ADMIN)).answer  # not restricted
    with pytest.raises(PolicyDenied, match="agent:billing-bot"):
        brain.ask("hi", model="big-1", context=_as(Role.ADMIN, agent="billing-bot"))


def test_tool_permissions(made: Any) -> None:
    brain, _ = made()
    tool = {"type": "function", "function": {"name": "delete_everything", "parameters": {}}}
    allowed = {"type": "function", "function": {"name": "lookup", "parameters": {}}}
    guard = brain.guards[0]
    assert isinstance(guard, PolicyGuard)
    from cerebra.exchange import Query

    guard.before(Query("hi", context=_as(Role.USER), extra={"tools": [allowed]}))
    with pytest.raises(PolicyDenied) as caught:
        guard.before(Query("hi", context=_as(Role.USER), extra={"tools": [allowed, tool]}))
    assert caught.value.field == "tools" and "delete_everything" in caught.value.message


def test_max_tokens_is_capped(made: Any) -> None:
    brain, model = made()
    brain.ask("hi", max_tokens=500)
    assert model.calls[-1].max_tokens == 50
    brain.ask("hi", max_tokens=20)
    assert model.calls[-1].max_tokens == 20


def test_decisions_reach_the_audit_hook_and_the_log(made: Any,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    brain, _ = made()
    seen: list[tuple[str, dict[str, Any]]] = []
    guard = brain.guards[0]
    assert isinstance(guard, PolicyGuard)
    guard.audit = lambda action, details, context: seen.append((action, details))
    with caplog.at_level("INFO", logger="cerebra.policy"), pytest.raises(PolicyDenied):
        brain.ask("launch codes please")
    assert [(a, d["rule"], d["action"]) for a, d in seen] == [
        ("policy.decision", "pattern:launch-codes", "deny")]
    assert seen[0][1]["constitution_hash"] == guard.constitution_hash
    assert any("pattern:launch-codes" in r.getMessage() for r in caplog.records)


def test_http_refusal_is_a_structured_403(made: Any) -> None:
    brain, _ = made()
    with TestClient(create_app(brain.settings, brain=brain)) as client:
        r = client.post("/v1/chat/completions", json={
            "model": "small-1", "messages": [{"role": "user", "content": "a nerve agent?"}]})
    assert r.status_code == 403
    error = r.json()["error"]
    assert error["type"] == "policy_denied" and error["rule"] == "topic:weapons"
    assert error["field"] == "messages" or error["field"] == "prompt"


def test_decisions_and_the_constitution_hash_reach_the_audit_log(made: Any) -> None:
    from cerebra.governance.audit_sinks import DatabaseAuditSink

    brain, _ = made()
    guard = brain.guards[0]
    assert isinstance(guard, PolicyGuard) and brain.audit is not None
    with pytest.raises(PolicyDenied):
        brain.ask("launch codes please", context=_as(Role.USER))
    brain.ask("hello there")
    assert brain.audit.flush()
    entries = [e.event for e in DatabaseAuditSink(brain.engine).entries("default")]
    decisions = [(e.action, e.target, e.outcome) for e in entries
                 if e.action == "policy.decision"]
    assert decisions == [("policy.decision", "pattern:launch-codes", "deny")]
    assert entries and {e.constitution_hash for e in entries} == {guard.constitution_hash}

"""Effect checks of the policy settings: the constitution, its signature, the engine and OPA."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cerebra.governance.constitution import ConstitutionError, generate_keypair, sign
from cerebra.governance.guard import PolicyDenied, PolicyGuard
from tests.effects.base import Env, effect
from tests.governance.opa_server import running_opa
from tests.helpers import free_port

RULES = "denied_patterns:\n  - id: launch-codes\n    pattern: '(?i)launch code'\n"


def _doc(env: Env) -> tuple[Path, str]:
    """A constitution in the test folder, signed by a fresh key; (path, public key)."""
    path = env.tmp / "constitution.yaml"
    path.write_text(RULES)
    private, public = generate_keypair()
    key = env.tmp / "signer.key"
    key.write_text(private)
    sign(path, key)
    return path, public


def _policy(brain: object) -> PolicyGuard:
    guard = brain.guards[0]  # type: ignore[attr-defined]
    assert isinstance(guard, PolicyGuard)
    return guard


@effect("CEREBRA_POLICY__CONSTITUTION")
def _constitution(env: Env) -> None:
    assert env.brain().ask("what is the launch code?").answer  # no constitution: answered
    path, _ = _doc(env)
    brain = env.brain(CEREBRA_POLICY__CONSTITUTION=str(path))
    with pytest.raises(PolicyDenied, match="launch-codes"):
        brain.ask("what is the launch code?")


@effect("CEREBRA_POLICY__REQUIRE_SIGNATURE")
def _require_signature(env: Env) -> None:
    path, public = _doc(env)
    path.with_name(path.name + ".sig").unlink()
    keys = json.dumps([public])
    env.brain(CEREBRA_POLICY__CONSTITUTION=str(path), CEREBRA_POLICY__TRUSTED_KEYS=keys)
    env.set(CEREBRA_POLICY__REQUIRE_SIGNATURE="true")
    from cerebra.brain import Brain
    from cerebra.config import get_settings

    with pytest.raises(ConstitutionError, match="no signature"):
        Brain.from_settings(get_settings())


@effect("CEREBRA_POLICY__TRUSTED_KEYS")
def _trusted_keys(env: Env) -> None:
    path, public = _doc(env)
    brain = env.brain(CEREBRA_POLICY__CONSTITUTION=str(path),
                      CEREBRA_POLICY__TRUSTED_KEYS=json.dumps([public]))
    assert _policy(brain).constitution.signer == public  # type: ignore[union-attr]
    _, other = generate_keypair()
    env.set(CEREBRA_POLICY__TRUSTED_KEYS=json.dumps([other]))
    from cerebra.brain import Brain
    from cerebra.config import get_settings

    with pytest.raises(ConstitutionError, match="not among the trusted keys"):
        Brain.from_settings(get_settings())


@effect("CEREBRA_POLICY__ENGINE")
def _engine(env: Env) -> None:
    path, _ = _doc(env)
    with running_opa() as opa:
        brain = env.brain(CEREBRA_POLICY__CONSTITUTION=str(path), CEREBRA_POLICY__OPA_URL=opa.url)
        assert _policy(brain).engine.name == "builtin"
        assert brain.ask("a forbidden question").answer  # the constitution allows it
        assert opa.requests == []
        brain = env.brain(CEREBRA_POLICY__ENGINE="opa")
        with pytest.raises(PolicyDenied) as caught:
            brain.ask("a forbidden question")
        assert caught.value.rule == "opa.forbidden_word"


@effect("CEREBRA_POLICY__OPA_URL")
def _opa_url(env: Env) -> None:
    with running_opa() as opa:
        brain = env.brain(CEREBRA_POLICY__ENGINE="opa", CEREBRA_POLICY__OPA_URL=opa.url)
        brain.ask("hello there")
        assert [body["input"]["stage"] for _, body in opa.requests][:1] == ["input"]


@effect("CEREBRA_POLICY__OPA_PATH")
def _opa_path(env: Env) -> None:
    with running_opa({"acme/rules": lambda inp: True}) as opa:
        brain = env.brain(CEREBRA_POLICY__ENGINE="opa", CEREBRA_POLICY__OPA_URL=opa.url,
                          CEREBRA_POLICY__OPA_PATH="acme/rules")
        assert brain.ask("hello").answer
        assert {path for path, _ in opa.requests} == {"acme/rules"}


@effect("CEREBRA_POLICY__OPA_FAIL_OPEN")
def _opa_fail_open(env: Env) -> None:
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    brain = env.brain(CEREBRA_POLICY__ENGINE="opa", CEREBRA_POLICY__OPA_URL=down)
    with pytest.raises(PolicyDenied) as caught:
        brain.ask("hello")
    assert caught.value.rule == "opa:unavailable"
    answer = env.brain(CEREBRA_POLICY__OPA_FAIL_OPEN="true").ask("hello")
    rules = [a.data["rule"] for a in answer.annotations if a.source == "policy"]
    assert answer.answer and rules == ["opa:unavailable"]

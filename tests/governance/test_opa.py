"""The OPA engine against a local server speaking OPA's data API: the request's shape, each
kind of result (boolean, allow, action with redacted text, flag), an undefined document, OPA
down (fail closed; fail open when asked), and the engine on Brain's path."""

from __future__ import annotations

from pathlib import Path

import pytest

from cerebra.brain import Brain
from cerebra.config import Settings
from cerebra.governance.guard import PolicyDenied
from cerebra.governance.opa import UNAVAILABLE, OPAEngine
from cerebra.governance.policy import Action, PolicyContext
from cerebra.testing import FakeModel
from tests.governance.opa_server import running_opa
from tests.helpers import free_port

CTX = PolicyContext(tenant_id="t1", user_id="u1", roles=("user",), model="m")


def test_the_request_is_opas_data_api_and_each_result_kind_is_read() -> None:
    with running_opa() as opa:
        engine = OPAEngine(opa.url, "cerebra/policy", constitution_hash="sha3-512:ab")
        try:
            allow = engine.evaluate("input", "hello", CTX)
            deny = engine.evaluate("output", "a forbidden word", CTX)
            redact = engine.evaluate("input", "hush now", CTX)
            flag = engine.evaluate("input", "an odd one", CTX)
        finally:
            engine.close()
    path, body = opa.requests[0]
    assert path == "cerebra/policy"
    assert body == {"input": {"stage": "input", "text": "hello",
                              "context": CTX.to_dict(), "constitution_hash": "sha3-512:ab"}}
    assert allow.action is Action.ALLOW
    assert (deny.action, deny.rule) == (Action.DENY, "opa.forbidden_word")
    assert deny.reason == "the output says a forbidden word"
    assert (redact.action, redact.text, redact.rule) == (Action.REDACT, "[hushed] now", "opa.hush")
    assert (flag.action, flag.rule) == (Action.FLAG, "opa.odd")


def test_boolean_results() -> None:
    with running_opa({"bool/yes": lambda i: True, "bool/no": lambda i: False}) as opa:
        yes, no = OPAEngine(opa.url, "bool/yes"), OPAEngine(opa.url, "bool/no")
        assert yes.evaluate("input", "x", CTX).action is Action.ALLOW
        d = no.evaluate("input", "x", CTX)
        assert (d.action, d.rule) == (Action.DENY, "opa:bool/no")


@pytest.mark.parametrize("result", [{"something": 1}, "yes", {"action": "explode"},
                                    {"action": "redact"}])
def test_a_result_it_cannot_read_fails_closed(result: object) -> None:
    with running_opa({"odd/shape": lambda i: result}) as opa:
        d = OPAEngine(opa.url, "odd/shape").evaluate("input", "x", CTX)
    assert (d.action, d.rule) == (Action.DENY, UNAVAILABLE)


def test_an_undefined_document_fails_closed() -> None:
    with running_opa() as opa:
        d = OPAEngine(opa.url, "no/such/policy").evaluate("input", "hello", CTX)
    assert (d.action, d.rule) == (Action.DENY, UNAVAILABLE)
    assert "undefined" in d.reason


def test_opa_down_fails_closed_or_open_as_configured() -> None:
    down = f"http://127.0.0.1:{free_port()}"
    closed = OPAEngine(down).evaluate("input", "hello", CTX)
    assert (closed.action, closed.rule) == (Action.DENY, UNAVAILABLE)
    assert "unreachable" in closed.reason
    opened = OPAEngine(down, fail_open=True).evaluate("input", "hello", CTX)
    assert (opened.action, opened.rule) == (Action.FLAG, UNAVAILABLE) and opened.allowed


def test_the_opa_engine_on_brains_path(tmp_path: Path) -> None:
    with running_opa() as opa:
        settings = Settings(home=tmp_path, model={"fake": True},
                            memory={"embedder": "fake", "enabled": False},
                            health={"interval_s": 0},
                            policy={"engine": "opa", "opa_url": opa.url})
        brain = Brain.from_settings(settings, model=FakeModel("Quiet: hush, please."))
        try:
            with pytest.raises(PolicyDenied) as caught:
                brain.ask("say the forbidden thing")
            assert caught.value.to_dict()["rule"] == "opa.forbidden_word"
            answer = brain.ask("hello")
            assert answer.answer == "Quiet: [hushed], please."
            stream = [p for p in brain.stream("hello") if isinstance(p, str)]
            assert "".join(stream) == "Quiet: [hushed], please." and "hush," not in stream
        finally:
            brain.close()
    stages = [body["input"]["stage"] for _, body in opa.requests]
    assert stages[:2] == ["input", "input"] and "output" in stages

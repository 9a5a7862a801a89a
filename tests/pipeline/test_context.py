"""The request context: one Brain and one MemoryStore serve every tenant, kept apart."""

from __future__ import annotations

import pytest

from cerebra.brain import Brain
from cerebra.context import DEFAULT_CONTEXT, RequestContext
from cerebra.errors import NotFound
from cerebra.exchange import build_query
from cerebra.models.base import GenerationRequest
from cerebra.testing import FakeModel

ACME = RequestContext(tenant_id="acme", user_id="ana")
GLOBEX = RequestContext(tenant_id="globex", user_id="ana")


@pytest.fixture(autouse=True)
def _tenants(brain: Brain) -> None:
    from sqlalchemy import text

    with brain.engine.begin() as conn:
        for t in ("acme", "globex"):
            conn.execute(
                text("INSERT INTO tenants (id, name, created_at) VALUES (:t, :t, 0)"), {"t": t}
            )


def test_one_brain_serves_two_tenants_apart(brain: Brain, model: FakeModel) -> None:
    first = brain.ask("Remember that my favourite colour is teal.", context=ACME)
    assert first.stored_memory_id
    same_tenant = brain.ask("What is my favourite colour?", context=ACME)
    assert first.stored_memory_id in [h.memory.uid for h in same_tenant.memories]
    other_tenant = brain.ask("What is my favourite colour?", context=GLOBEX)
    assert other_tenant.memories == []  # same user id, other tenant: nothing recalled
    assert model.calls[-1].context.tenant_id == "globex"  # the context reaches the model
    assert brain.ledger.get(first.trace_id)["tenant_id"] == "acme"  # type: ignore[index]
    assert brain.ledger.get(other_tenant.trace_id)["tenant_id"] == "globex"  # type: ignore[index]
    assert [r["trace_id"] for r in brain.ledger.recent(10, "globex")] == [other_tenant.trace_id]


def test_feedback_and_memory_ids_do_not_cross_tenants(brain: Brain) -> None:
    answer = brain.ask("Remember the launch code is 42.", context=ACME)
    with pytest.raises(NotFound):
        brain.feedback(answer.trace_id, 1.0, context=GLOBEX)
    uid = answer.stored_memory_id
    assert uid is not None
    assert brain.memory.get(uid, context=GLOBEX) is None
    assert not brain.memory.delete(uid, context=GLOBEX)
    with pytest.raises(NotFound):
        brain.memory.update(uid, text="changed", context=GLOBEX)
    assert brain.memory.reinforce([uid], 1.0, context=GLOBEX) == 0
    assert brain.memory.get(uid, context=ACME) is not None
    assert brain.feedback(answer.trace_id, 1.0, context=ACME)["quality"] == 1.0


def test_keyword_shortcuts_refine_the_context() -> None:
    q = build_query("hi", {"context": ACME, "agent_id": "support", "session_id": "s1"})
    assert q.context == RequestContext("acme", "ana", "support", "s1")
    assert (q.tenant_id, q.user_id, q.agent_id, q.session_id) == ("acme", "ana", "support", "s1")
    assert build_query("hi", {}).context == DEFAULT_CONTEXT
    with pytest.raises(TypeError, match="unexpected arguments: colour"):
        build_query("hi", {"colour": "teal"})  # type: ignore[typeddict-unknown-key]


def test_the_cache_key_holds_the_tenant_only() -> None:
    assert ACME.cache_scope() == ("acme",)
    assert ACME.with_(agent_id="x", user_id="y", session_id="z").cache_scope() == ("acme",)
    assert RequestContext(tenant_id="").tenant_id == "default"
    # the context shapes no answer: requests differing only in context are equal
    assert GenerationRequest(context=ACME) == GenerationRequest(context=GLOBEX)


def test_query_carries_no_tenant_in_extra(brain: Brain, model: FakeModel) -> None:
    brain.ask("hello", context=ACME.with_(agent_id="support"))
    request = model.calls[-1]
    assert "tenant_id" not in request.extra and "agent_id" not in request.extra
    assert request.context.agent_id == "support"


def test_a_wrong_typed_keyword_to_ask_is_a_type_error(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`Brain.ask` has a typed signature: mypy refuses a wrong-typed option."""
    from pathlib import Path

    from mypy import api

    monkeypatch.setenv("MYPYPATH", str(Path(__file__).resolve().parents[2]))

    src = Path(str(tmp_path)) / "use_brain.py"
    src.write_text(
        "from cerebra.brain import Brain\n"
        "def f(b: Brain) -> None:\n"
        "    b.ask('hi', max_tokens='ten')\n"
        "    b.ask('hi', colour='teal')\n"
    )
    out, _, status = api.run([str(src), "--no-incremental", "--follow-imports=silent"])
    assert status == 1, out
    assert 'Argument "max_tokens" to "ask" of "Brain" has incompatible type "str"' in out
    assert '"colour"' in out

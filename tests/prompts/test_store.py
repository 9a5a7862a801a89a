"""TemplateStore and A/B tests on SQLite and PostgreSQL: versions are kept, labels move,
unknown names, versions and labels are 404, and another tenant's templates are not found."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from cerebra.auth.identity import IdentityStore
from cerebra.context import RequestContext
from cerebra.errors import Conflict, InvalidInput, NotFound
from cerebra.prompts.ab import ABTests, assign_arm
from cerebra.prompts.template_store import TemplateStore

T1 = RequestContext(tenant_id="t1")
T2 = RequestContext(tenant_id="t2")


def test_versions_and_labels(sql_engine: Engine) -> None:
    store = TemplateStore(sql_engine)
    first = store.add("greet", "Hi {{ name }}", note="first")
    assert (first.version, first.labels, first.variables) == (1, ("production",), ("name",))
    second = store.add("greet", "Hello {{ name }}, {{ mood }}", labels=["staging", "exp-1"])
    assert second.version == 2 and second.labels == ("exp-1", "staging")
    assert store.get("greet").version == 1  # production stays until moved
    assert store.get("greet", label="staging").source.startswith("Hello")
    assert store.get("greet", version=2, label="staging").version == 2
    with pytest.raises(NotFound):
        store.get("greet", version=1, label="staging")  # version 1 does not carry it
    moved = store.set_label("greet", "production", 2)
    assert moved.labels == ("exp-1", "production", "staging")
    assert store.get("greet").version == 2
    assert [v.version for v in store.versions("greet")] == [1, 2]
    assert store.versions("greet")[0].labels == ()
    assert store.list() == [{"name": "greet", "latest": 2, "versions": 2,
                             "labels": {"exp-1": 2, "production": 2, "staging": 2}}]
    store.remove_label("greet", "exp-1")
    assert "exp-1" not in store.labels("greet")


def test_unknown_and_invalid(sql_engine: Engine) -> None:
    store = TemplateStore(sql_engine)
    store.add("greet", "Hi {{ name }}")
    for call, field in [
        (lambda: store.get("nope"), "name"),
        (lambda: store.get("greet", version=7), "version"),
        (lambda: store.get("greet", label="staging"), "label"),
        (lambda: store.set_label("greet", "staging", 7), "version"),
        (lambda: store.set_label("nope", "staging", 1), "name"),
        (lambda: store.versions("nope"), "name"),
        (lambda: store.remove_label("greet", "staging"), "label"),
    ]:
        with pytest.raises(NotFound) as caught:
            call()
        assert caught.value.field == field
    for call, field in [
        (lambda: store.add("bad name!", "x"), "name"),
        (lambda: store.add("../up", "x"), "name"),
        (lambda: store.add("greet", "{{ ''.__class__ }}"), "source"),
        (lambda: store.add("greet", "{% if %}"), "source"),
        (lambda: store.add("greet", "   "), "source"),
        (lambda: store.add("greet", "x", labels=["no spaces"]), "label"),
    ]:
        with pytest.raises(InvalidInput) as invalid:
            call()
        assert invalid.value.field == field
    assert len(store.versions("greet")) == 1  # nothing half-written


def test_tenant_isolation(sql_engine: Engine) -> None:
    identity = IdentityStore(sql_engine)
    identity.create_tenant("t1")
    identity.create_tenant("t2")
    store = TemplateStore(sql_engine)
    store.add("greet", "t1 {{ name }}", context=T1)
    store.add("greet", "t2 {{ name }}", context=T2)
    store.add("greet", "t2 again", context=T2)
    assert store.get("greet", context=T1).source == "t1 {{ name }}"
    assert [v.version for v in store.versions("greet", context=T2)] == [1, 2]
    assert store.list(context=T1)[0]["versions"] == 1
    with pytest.raises(NotFound):
        store.get("greet", version=2, context=T1)
    tests = ABTests(sql_engine, store)
    test = tests.create("greet", 1, 2, context=T2)
    with pytest.raises(NotFound):
        tests.get(test.id, context=T1)
    with pytest.raises(NotFound):
        tests.record(test.id, 1.0, arm="a", context=T1)
    with pytest.raises(Conflict):
        tests.create("greet", 1, 2, context=T1)  # t1 has no version 2
    with pytest.raises(NotFound):
        tests.create("nope", 1, 2, context=T1)


def test_ab_assignment_is_deterministic_and_split(sql_engine: Engine) -> None:
    store = TemplateStore(sql_engine)
    store.add("greet", "A {{ name }}")
    store.add("greet", "B {{ name }}")
    tests = ABTests(sql_engine, store)
    test = tests.create("greet", 1, 2, split=0.3)
    arms = [tests.assign(test.id, f"user-{i}")[0] for i in range(400)]
    assert arms == [tests.assign(test.id, f"user-{i}")[0] for i in range(400)]
    share_b = arms.count("b") / len(arms)
    assert 0.22 < share_b < 0.38
    assert tests.assign(test.id, "user-1")[1] == (2 if arms[1] == "b" else 1)
    assert tests.record(test.id, 1.0, key="user-1") == assign_arm(test.id, "user-1", 0.3)
    assert tests.create("greet", 1, 1).version_b == 1  # an A/A test
    with pytest.raises(InvalidInput):
        tests.create("greet", 1, 2, split=1.5)
    with pytest.raises(InvalidInput):
        tests.record(test.id, float("nan"), arm="a")
    with pytest.raises(InvalidInput):
        tests.record(test.id, 1.0)  # neither arm nor key
    with pytest.raises(NotFound):
        tests.assign("nope", "k")

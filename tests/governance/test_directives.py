"""Governance directives (cerebra.governance.directives): what a context bundle tells an
outside agent agrees with what the policy guard enforces on Cerebra's own path."""

from __future__ import annotations

import pytest

from cerebra.auth.principal import ROLE_SCOPES, Principal, Role
from cerebra.context import RequestContext
from cerebra.exchange import Query
from cerebra.governance.constitution import parse
from cerebra.governance.directives import directives_for
from cerebra.governance.guard import PolicyDenied, PolicyGuard
from cerebra.governance.policy import BuiltinEngine
from tests.governance.test_policy import RULES

MODELS = ["small-1", "small-2", "big-1"]
TOOLS = ["lookup", "delete_everything"]


def _context(role: Role, agent: str = "") -> RequestContext:
    principal = Principal(tenant_id="default", user_id="u", roles=frozenset({role}),
                          scopes=ROLE_SCOPES[role], agent_id=agent)
    return RequestContext(principal=principal)


def _tool(name: str) -> dict[str, object]:
    return {"type": "function", "function": {"name": name, "parameters": {}}}


@pytest.mark.parametrize(("role", "agent"), [
    (Role.USER, ""), (Role.USER, "billing-bot"), (Role.ADMIN, ""), (Role.ADMIN, "billing-bot"),
])
def test_permissions_match_what_the_guard_enforces(role: Role, agent: str) -> None:
    loaded = parse(RULES)
    guard = PolicyGuard(BuiltinEngine(loaded.doc), constitution=loaded)
    directives = directives_for(loaded, [role.value], [agent] if agent else [])

    def guard_allows(**query: object) -> bool:
        try:
            guard.before(Query("hi", context=_context(role, agent), **query))  # type: ignore[arg-type]
        except PolicyDenied:
            return False
        return True

    for model in MODELS:
        assert directives.allows_model(model) == guard_allows(model=model), model
    for tool in TOOLS:
        assert directives.allows_tool(tool) == guard_allows(extra={"tools": [_tool(tool)]}), tool


def test_the_constitution_is_described() -> None:
    loaded = parse(RULES)
    d = directives_for(loaded, ["user"], ["billing-bot"])
    assert d.enforced and d.hash == loaded.hash and d.max_tokens == 50
    assert [t.id for t in d.denied_topics] == ["weapons"]
    assert d.denied_topics[0].keywords == ["nerve agent", "bioweapon"]
    assert [(p.id, p.action) for p in d.denied_patterns] == [("launch-codes", "deny"),
                                                             ("watch-word", "flag")]
    assert d.pii == {"email": "redact", "phone": "redact", "card": "refuse"}
    assert [(x.id, x.text) for x in d.disclaimers] == [("medical", "This is not medical advice.")]
    assert [p.who for p in d.permissions] == ["role:user", "agent:billing-bot"]
    nothing = directives_for(None, ["user"], [])
    assert not nothing.enforced and nothing.allows_model("anything")

"""A key confined to its user acts as that user on every path: the request context pins
it, so a query naming another user is refused (403) instead of being recorded as that
user's interaction (which the other user could then read), and a query naming nobody is
the caller's own (it sees it under /api/interactions).

Found by tests/security/test_isolation_properties.py: with memory off, nothing refused a
user key's `user_id: "bob"`, and the ledger filed alice's prompt under bob.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from cerebra.auth.identity import IdentityStore
from cerebra.auth.principal import ROLE_SCOPES, Principal, Role
from cerebra.brain import Brain
from cerebra.config import Settings
from cerebra.context import RequestContext
from cerebra.errors import Forbidden
from cerebra.server.app import create_app
from cerebra.testing import FakeEmbedder, FakeModel


def _principal(role: Role, user: str = "alice", agent: str = "") -> Principal:
    return Principal(tenant_id="t1", user_id=user, roles=frozenset({role}),
                     scopes=ROLE_SCOPES[role], agent_id=agent)


def test_a_confined_context_is_its_principals_user_and_agent() -> None:
    alice = _principal(Role.USER, agent="helper")
    context = RequestContext(tenant_id="t1", principal=alice)
    assert (context.user_id, context.agent_id) == ("alice", "helper")
    assert context.with_(user_id="", session_id="s").user_id == "alice"
    assert context.with_(user_id="alice").user_id == "alice"
    for change in ({"user_id": "bob"}, {"agent_id": "other"}):
        with pytest.raises(Forbidden) as refused:
            context.with_(**change)
        assert refused.value.field == next(iter(change))
    operator = RequestContext(tenant_id="t1", principal=_principal(Role.OPERATOR))
    assert operator.with_(user_id="bob").user_id == "bob"  # memory:any_user: anyone
    assert RequestContext(user_id="bob").user_id == "bob"  # the library's own caller


@pytest.fixture
def client() -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    config = Settings(auth={"mode": "on"}, health={"interval_s": 0})
    brain = Brain.from_settings(config, model=FakeModel(lambda p: p[-400:]),
                                embedder=FakeEmbedder())
    identity = IdentityStore(brain.engine)
    identity.create_tenant("t1")
    keys = {user: identity.create_key("t1", role="user", user_id=user)[0]
            for user in ("alice", "bob")}
    headers = {user: {"Authorization": f"Bearer {key}"} for user, key in keys.items()}
    try:
        with TestClient(create_app(config, brain=brain)) as c:
            yield c, headers
    finally:
        brain.close()


def test_a_user_key_cannot_file_its_queries_under_another_user(
    client: tuple[TestClient, dict[str, dict[str, str]]],
) -> None:
    c, headers = client
    as_bob = [
        ("/api/llm/query", {"prompt": "alice SECRET-1", "memory": False, "user_id": "bob"}),
        ("/v1/chat/completions", {"model": "fake-model", "user": "bob",
                                  "metadata": {"memory": "off"},
                                  "messages": [{"role": "user", "content": "SECRET-2"}]}),
        ("/v1/chat/completions", {"model": "fake-model", "metadata": {"user_id": "bob"},
                                  "messages": [{"role": "user", "content": "SECRET-3"}]}),
        ("/v1/completions", {"model": "fake-model", "prompt": "SECRET-4", "user": "bob"}),
    ]
    for url, body in as_bob:
        refused = c.post(url, json=body, headers=headers["alice"])
        assert refused.status_code == 403, (url, refused.text)
        assert refused.json()["error"]["field"] == "user_id"
    own = c.post("/api/llm/query", json={"prompt": "alice OWN", "memory": False},
                 headers=headers["alice"])
    assert own.status_code == 200
    bobs = c.get("/api/interactions", headers=headers["bob"]).json()["interactions"]
    assert bobs == []
    alices = c.get("/api/interactions", headers=headers["alice"]).json()["interactions"]
    assert [(r["trace_id"], r["user_id"]) for r in alices] == [(own.json()["trace_id"], "alice")]

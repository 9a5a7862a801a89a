"""Tenant and user isolation as a property of the HTTP API: random sequences of operations
by three tenants (an admin and two users each, the same user names in every tenant) — add,
search, list, get, patch, delete memories (others' ids too), delete_all, feedback, queries
through /api/llm/query and /v1/chat/completions, the interactions and their trace ids —
and after every response: nothing of another tenant, nothing of another user for a user
key, others' ids answered 404 (never 403 or 200), others' data unchanged by any of it.

The world (tests/security/isolation_world.py) registers every marker, memory and trace id
with its owner; one app and database serve every example, so later examples run among the
data of earlier ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from cerebra.auth.identity import IdentityStore
from cerebra.brain import Brain
from cerebra.config import Settings
from cerebra.server.app import create_app
from cerebra.testing import FakeEmbedder, FakeModel
from tests.security.isolation_world import USERS, Actor, Memory, Owner, World

EXAMPLES, STEPS = 65, 200  # ≥ 10,000 requests in all (each step makes one to three)
WANTED_REQUESTS = 10_000

actors = st.tuples(st.integers(0, 2), st.integers(0, 2))
picks = st.integers(0, 10**6)
for_users = st.sampled_from(("", *USERS))


@pytest.fixture
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("isolation")
    config = Settings(home=home, auth={"mode": "on"}, health={"interval_s": 0})
    # the model echoes its prompt, recalled memories included: what recall finds shows
    brain = Brain.from_settings(config, model=FakeModel(lambda p: p[-1500:]),
                                embedder=FakeEmbedder())
    try:
        with TestClient(create_app(config, brain=brain)) as client:
            yield World(client, IdentityStore(brain.engine))
    finally:
        brain.close()


class Isolation(RuleBasedStateMachine):
    world: World  # set by the test

    @initialize()
    def tenants(self) -> None:
        self.tenants_ = self.world.new_tenants(3)
        self.memory_ids: list[str] = []  # this example's (draws must not depend on others)
        self.trace_ids: list[str] = []
        self.key_ids: list[str] = []  # keys made through /api/keys (never the actors')

    def pick_memory(self, index: int) -> str | None:
        return self.memory_ids[index % len(self.memory_ids)] if self.memory_ids else None

    def pick_trace(self, index: int) -> str | None:
        return self.trace_ids[index % len(self.trace_ids)] if self.trace_ids else None

    def remember(self, uid: str, owner: Owner, marker: str) -> None:
        if uid not in self.world.memories:
            self.memory_ids.append(uid)
        self.world.memories[uid] = Memory(owner, marker)

    def actor(self, which: tuple[int, int]) -> Actor:
        return self.tenants_[which[0]][which[1]]

    # -- memories ---------------------------------------------------------------------
    @rule(who=actors, for_user=for_users)
    def add_memory(self, who: tuple[int, int], for_user: str) -> None:
        actor = self.actor(who)
        owner = actor.owner_for(for_user)
        marker = self.world.marker(owner)
        body = {"text": f"note {marker} about the garden", "user_id": for_user,
                "tags": ["iso"]}
        response = self.world.call(actor, "POST", "/api/memory", body)
        if actor.user is not None and for_user not in ("", actor.user):
            assert response.status_code == 403, response.text
            return
        assert response.status_code == 201, response.text
        self.remember(response.json()["id"], owner, marker)

    @rule(who=actors, pick=picks, route=st.sampled_from(("search", "similar")))
    def search(self, who: tuple[int, int], pick: int, route: str) -> None:
        """Search for a marker of anyone's (another tenant's included)."""
        uid = self.pick_memory(pick)
        marker = self.world.memories[uid].marker if uid else "garden"
        response = self.world.call(self.actor(who), "POST", f"/api/memory/{route}",
                                   {"query": f"{marker} garden", "k": 20})
        assert response.status_code == 200, response.text

    @rule(who=actors, for_user=st.sampled_from((None, *USERS)), tagged=st.booleans())
    def list_memories(self, who: tuple[int, int], for_user: str | None, tagged: bool) -> None:
        actor = self.actor(who)
        query = "?limit=100" + (f"&user_id={for_user}" if for_user else "")
        query += "&tag=iso" if tagged else ""
        response = self.world.call(actor, "GET", "/api/memory" + query)
        refused = actor.user is not None and for_user not in (None, actor.user)
        assert response.status_code == (403 if refused else 200), response.text

    @rule(who=actors)
    def recent(self, who: tuple[int, int]) -> None:
        response = self.world.call(self.actor(who), "POST", "/api/memory/recent", {"k": 100})
        assert response.status_code == 200, response.text

    def _by_id(self, actor: Actor, uid: str, status: int) -> None:
        """An id answers as it should: others' and deleted ones 404, own live ones 200."""
        memory = self.world.memories[uid]
        expected = 200 if actor.sees(memory.owner) and memory.alive else 404
        assert status == expected, (actor, memory, status)

    @rule(who=actors, pick=picks, history=st.booleans())
    def get_memory(self, who: tuple[int, int], pick: int, history: bool) -> None:
        uid = self.pick_memory(pick)
        if uid is None:
            return
        actor = self.actor(who)
        response = self.world.call(actor, "GET", f"/api/memory/{uid}"
                                   + ("/history" if history else ""))
        if not history:  # a deleted memory keeps its history
            self._by_id(actor, uid, response.status_code)
        elif not actor.sees(self.world.memories[uid].owner):
            assert response.status_code == 404, response.text

    @rule(who=actors, pick=picks)
    def patch_memory(self, who: tuple[int, int], pick: int) -> None:
        uid = self.pick_memory(pick)
        if uid is None:
            return
        actor, memory = self.actor(who), self.world.memories[uid]
        before = self._owner_view(uid)
        owner = memory.owner if actor.sees(memory.owner) else actor.owner_for("")
        marker = self.world.marker(owner)
        response = self.world.call(actor, "PATCH", f"/api/memory/{uid}",
                                   {"text": f"changed {marker} in the garden"})
        self._by_id(actor, uid, response.status_code)
        if response.status_code == 200:
            memory.marker = marker
        else:
            assert self._owner_view(uid) == before

    @rule(who=actors, pick=picks)
    def delete_memory(self, who: tuple[int, int], pick: int) -> None:
        uid = self.pick_memory(pick)
        if uid is None:
            return
        actor, memory = self.actor(who), self.world.memories[uid]
        before = self._owner_view(uid)
        response = self.world.call(actor, "DELETE", f"/api/memory/{uid}")
        self._by_id(actor, uid, response.status_code)
        if response.status_code == 200:
            memory.alive = False
        else:
            assert self._owner_view(uid) == before

    @rule(who=actors, for_user=st.sampled_from((None, *USERS)))
    def delete_all(self, who: tuple[int, int], for_user: str | None) -> None:
        actor = self.actor(who)
        body = {"confirm_all": True} if for_user is None else {"user_id": for_user}
        response = self.world.call(actor, "POST", "/api/memory/delete_all", body)
        if actor.user is not None and for_user not in (None, actor.user):
            assert response.status_code == 403, response.text
            return
        assert response.status_code == 200, response.text
        for_user = for_user if actor.user is None else actor.user  # a user key: its own
        for memory in self.world.memories.values():
            tenant, user = memory.owner
            if tenant == actor.tenant and (for_user is None or user == for_user):
                memory.alive = False

    @rule(who=actors, picks_=st.lists(picks, min_size=1, max_size=4))
    def memory_feedback(self, who: tuple[int, int], picks_: list[int]) -> None:
        ids = sorted({u for p in picks_ if (u := self.pick_memory(p)) is not None})
        if not ids:
            return
        actor = self.actor(who)
        foreign = [u for u in ids if not actor.sees(self.world.memories[u].owner)]
        before = [self._owner_view(u) for u in foreign]
        response = self.world.call(actor, "POST", "/api/memory/feedback",
                                   {"memory_ids": ids, "reward": -1.0})
        assert response.status_code == 200, response.text
        assert response.json()["updated"] <= len(ids) - len(foreign)
        assert [self._owner_view(u) for u in foreign] == before

    def _owner_view(self, uid: str) -> tuple[int, str]:
        """The memory as its tenant's admin reads it (status, body)."""
        admin = self.world.admins[self.world.memories[uid].owner[0]]
        response = self.world.call(admin, "GET", f"/api/memory/{uid}")
        memory = self.world.memories[uid]
        self._by_id(admin, uid, response.status_code)
        if response.status_code == 200:
            assert memory.marker in response.json()["text"]
        return response.status_code, response.text

    # -- queries and interactions -----------------------------------------------------
    @rule(who=actors, for_user=for_users, memory=st.booleans(),
          route=st.sampled_from(("api", "chat", "stream")))
    def ask(self, who: tuple[int, int], for_user: str, memory: bool, route: str) -> None:
        actor = self.actor(who)
        owner = actor.owner_for(for_user)
        prompt = f"what about {self.world.marker(owner)} garden"
        if route != "chat":
            url, body = "/api/llm/query", {"prompt": prompt, "user_id": for_user,
                                           "memory": memory, "max_tokens": 64,
                                           "stream": route == "stream"}
        else:
            url = "/v1/chat/completions"
            body = {"model": "fake-model", "max_tokens": 64, "user": for_user,
                    "messages": [{"role": "user", "content": prompt}],
                    "metadata": {} if memory else {"memory": "off"}}
        response = self.world.call(actor, "POST", url, body)
        if actor.user is not None and for_user not in ("", actor.user):
            assert response.status_code == 403, response.text
            return
        assert response.status_code == 200, response.text
        if route == "stream":  # the last event is the answer
            answer = json.loads(response.text.rsplit("data: ", 1)[1])
        else:
            answer = response.json()
        trace_id = answer["cerebra"]["trace_id"] if route == "chat" else answer["trace_id"]
        self.world.traces[trace_id] = owner
        self.trace_ids.append(trace_id)
        if answer.get("stored_memory_id"):
            self.remember(answer["stored_memory_id"], owner,
                                  prompt.split()[2])

    @rule(who=actors)
    def interactions(self, who: tuple[int, int]) -> None:
        actor = self.actor(who)
        response = self.world.call(actor, "GET", "/api/interactions?limit=100")
        assert response.status_code == 200, response.text
        for row in response.json()["interactions"]:
            owner = self.world.traces.get(row["trace_id"])
            assert owner is None or actor.sees(owner), row

    @rule(who=actors, pick=picks, feedback=st.booleans())
    def interaction(self, who: tuple[int, int], pick: int, feedback: bool) -> None:
        trace_id = self.pick_trace(pick)
        if trace_id is None:
            return
        actor = self.actor(who)
        if feedback:
            response = self.world.call(actor, "POST", "/api/feedback",
                                       {"trace_id": trace_id, "quality": 0.25})
            allowed = {200, 422} if actor.sees(self.world.traces[trace_id]) else {404}
        else:
            response = self.world.call(actor, "GET", f"/api/interactions/{trace_id}")
            allowed = {200} if actor.sees(self.world.traces[trace_id]) else {404}
        assert response.status_code in allowed, (actor, response.text)

    # -- API keys ---------------------------------------------------------------------
    @rule(who=actors)
    def keys(self, who: tuple[int, int]) -> None:
        actor = self.actor(who)
        response = self.world.call(actor, "GET", "/api/keys")
        assert response.status_code == (200 if actor.user is None else 403), response.text
        if response.status_code == 200:
            assert {k["tenant_id"] for k in response.json()["keys"]} == {actor.tenant}

    @rule(who=actors, pick=picks, revoke=st.booleans())
    def key(self, who: tuple[int, int], pick: int, revoke: bool) -> None:
        """Make a key, or revoke one made here (another tenant's: 404)."""
        actor = self.actor(who)
        if revoke and self.key_ids:
            key_id = self.key_ids[pick % len(self.key_ids)]
            response = self.world.call(actor, "DELETE", f"/api/keys/{key_id}")
            mine = self.world.keys[key_id] == actor.tenant
            expected = 403 if actor.user is not None else 200 if mine else 404
            assert response.status_code == expected, response.text
            return
        response = self.world.call(actor, "POST", "/api/keys",
                                   {"role": "user", "user_id": "alice", "name": "extra"})
        assert response.status_code == (201 if actor.user is None else 403), response.text
        if response.status_code == 201:
            self.world.keys[response.json()["id"]] = actor.tenant
            self.key_ids.append(response.json()["id"])


def test_no_response_shows_another_tenants_or_users_data(world: World) -> None:
    Isolation.world = world
    run_state_machine_as_test(Isolation, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, database=None,
        derandomize=True, phases=(Phase.generate,), suppress_health_check=list(HealthCheck),
    ))
    print(f"{world.requests} requests")
    assert world.requests >= WANTED_REQUESTS, world.requests

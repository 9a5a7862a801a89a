"""The world of the isolation properties: tenants with an admin and two users each, every
piece of data they create (marker texts, memory ids, trace ids) registered with its owner,
and the check every response must pass — nothing of another tenant, nothing of another user
for a key confined to its user, never a 5xx.

Markers are unique words (`zq` + digits) put into every text a caller sends; memory and
trace ids are 32 hex digits. A response is scanned for both, and each one found that was
not in the request itself must belong to what the caller may see.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient

from cerebra.auth.identity import IdentityStore

USERS = ("alice", "bob")  # the same user names in every tenant: only the tenant tells apart
MARKER = re.compile(r"zq\d{9}")
HEX_ID = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")
_markers = itertools.count(1)
_tenants = itertools.count(1)

Response = Any  # the test client's (httpx or httpx2, whichever Starlette uses)
Owner = tuple[str, str]  # (tenant, user); user "" for data of no user (an admin's own)


@dataclass(frozen=True)
class Actor:
    tenant: str
    user: str | None  # None: the tenant's admin (not confined to a user)
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def sees(self, owner: Owner) -> bool:
        tenant, user = owner
        return tenant == self.tenant and (self.user is None or user == self.user)

    def owner_for(self, user: str) -> Owner:
        """Who owns what this actor creates for `user` ("" from a confined key: itself)."""
        return (self.tenant, self.user if self.user is not None else user)


@dataclass
class Memory:
    owner: Owner
    marker: str
    alive: bool = True


@dataclass
class World:
    """Everything created so far, across examples (each example adds three tenants)."""

    client: TestClient
    identity: IdentityStore
    requests: int = 0
    markers: dict[str, Owner] = field(default_factory=dict)
    memories: dict[str, Memory] = field(default_factory=dict)
    traces: dict[str, Owner] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # key id -> tenant
    admins: dict[str, Actor] = field(default_factory=dict)  # tenant -> its admin

    def new_tenants(self, n: int = 3) -> list[list[Actor]]:
        """n tenants, each [admin, alice, bob]."""
        out = []
        for _ in range(n):
            tenant = f"iso{next(_tenants)}"
            self.identity.create_tenant(tenant)
            actors = []
            for user in (None, *USERS):
                role = "admin" if user is None else "user"
                secret, record = self.identity.create_key(tenant, role=role, user_id=user)
                self.keys[record.id] = tenant
                actors.append(Actor(tenant, user, secret))
            self.admins[tenant] = actors[0]
            out.append(actors)
        return out

    def marker(self, owner: Owner) -> str:
        word = f"zq{next(_markers):09d}"
        self.markers[word] = owner
        return word


    def call(self, actor: Actor, method: str, url: str, body: Any = None) -> Response:
        """One request as `actor`, checked: no 5xx, nothing the actor may not see."""
        self.requests += 1
        response = self.client.request(method, url, json=body, headers=actor.headers)
        sent = url + ("" if body is None else json.dumps(body))
        self.check(actor, response, sent, f"{method} {url}")
        return response

    def check(self, actor: Actor, response: Response, sent: str, what: str) -> None:
        text = response.text
        assert response.status_code < 500, f"{what}: {response.status_code} {text[:500]}"
        for word in set(MARKER.findall(text)) - set(MARKER.findall(sent)):
            owner = self.markers.get(word)
            assert owner is None or actor.sees(owner), (
                f"{what} as {actor.tenant}/{actor.user} showed {word} of {owner}: {text[:800]}")
        for uid in set(HEX_ID.findall(text)) - set(HEX_ID.findall(sent)):
            memory = self.memories.get(uid)
            owner = memory.owner if memory is not None else self.traces.get(uid)
            assert owner is None or actor.sees(owner), (
                f"{what} as {actor.tenant}/{actor.user} showed id {uid} of {owner}: "
                f"{text[:800]}")
        for key_id, tenant in self.keys.items():
            assert tenant == actor.tenant or key_id not in text or key_id in sent, (
                f"{what} as {actor.tenant} showed key {key_id} of {tenant}")
        if response.headers.get("content-type", "").startswith("application/json"):
            _check_fields(actor, response.json(), what)


def _check_fields(actor: Actor, value: Any, what: str) -> None:
    """Every object that names a tenant names the actor's; a user, the actor's own user
    (or none) for a confined key."""
    if isinstance(value, list):
        for item in value:
            _check_fields(actor, item, what)
    elif isinstance(value, dict):
        tenant = value.get("tenant_id")
        assert tenant in (None, actor.tenant), f"{what}: tenant {tenant} in {value}"
        user = value.get("user_id")
        if actor.user is not None and isinstance(user, str):
            assert user == actor.user, f"{what}: user {user} shown to {actor.user}: {value}"
        for item in value.values():
            _check_fields(actor, item, what)

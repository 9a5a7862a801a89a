"""User profiles (issue 12, item 4): what memory knows about a user, read from facts in time.

A profile is the current value of every attribute the user stated about themselves — the
statements of `memory_facts` whose subject is that user (the speaker of their memories:
`speaker_of`, the user id in lower case) — with its provenance (the memories that state
it), how many times it was stated since it last changed (confidence 1 - 0.5^n; a value the
user set by a profile edit is certain) and when it was first and last stated. Values are
superseded like any fact: the newest statement of an attribute wins (across the user's
agents, or within one when an agent is named), the values it replaced are listed.

Edits (`patch`) are memories of source "profile" that state the edited value (provenance
"profile edit"), so they enter the same timelines and supersede older values; removing an
attribute states the empty value, which hides it from the profile until the user states it
again. `forget` (the right to be forgotten) deletes every memory any of the user's facts
came from, edits included, and with them the profile. Tenant-scoped throughout: a user
neither registered in the tenant nor owning a memory there is not found.

Backends without facts (TinyDB) have no profiles: ProfileUnavailable.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, text

from cerebra.context import RequestContext
from cerebra.errors import Conflict, InvalidInput, NotFound
from cerebra.ids import new_id
from cerebra.memory.base import Scope
from cerebra.memory.facts import Fact, speaker_of

if TYPE_CHECKING:
    from cerebra.memory.store import MemoryStore

SINGLE = ("lives_in", "employer", "job", "diet", "relationship", "age")
KEYED = ("likes", "owns", "favourite")  # likes:<thing>, owns:<thing>, favourite:<thing>
SOURCE = "profile"
PROVENANCE = "profile edit"
_VALUE = re.compile(r"[^\w&' -]+")


class ProfileUnavailable(Conflict):
    """The memory backend keeps no facts (TinyDB), so it has no profiles."""

    code = "profile_unavailable"


@dataclass(frozen=True)
class ProfileEntry:
    """The current value of one attribute and where it came from."""

    attribute: str
    value: str
    confidence: float
    times_stated: int
    first_stated: float
    last_stated: float
    memory_ids: tuple[str, ...]
    edited: bool  # set by a profile edit
    superseded: tuple[dict[str, Any], ...] = ()  # earlier values, newest first

    def line(self) -> str:
        """The entry as a prompt line: "lives in: berlin", "likes tea", "has a dog"."""
        name, _, thing = self.attribute.partition(":")
        if name == "likes":
            return f"likes {thing}" if self.value == "yes" else f"does not like {thing}"
        if name == "owns":
            return f"has a {thing}" if self.value == "yes" else f"no longer has a {thing}"
        if name == "favourite":
            return f"favourite {thing}: {self.value}"
        label = {"lives_in": "lives in", "employer": "works at"}.get(name, name)
        return f"{label}: {self.value}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "attribute": self.attribute,
            "value": self.value,
            "confidence": round(self.confidence, 4),
            "times_stated": self.times_stated,
            "first_stated": self.first_stated,
            "last_stated": self.last_stated,
            "memory_ids": list(self.memory_ids),
            "edited": self.edited,
            "superseded": list(self.superseded),
        }


@dataclass(frozen=True)
class Profile:
    """A user's profile: entries most confident first."""

    user_id: str
    agent_id: str | None
    entries: tuple[ProfileEntry, ...] = field(default_factory=tuple)

    def get(self, attribute: str) -> ProfileEntry | None:
        return next((e for e in self.entries if e.attribute == attribute), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "agent_id": self.agent_id,
            "attributes": {e.attribute: e.value for e in self.entries},
            "entries": [e.to_dict() for e in self.entries],
        }


def check_attribute(name: str) -> str:
    """A profile attribute: one of SINGLE, or likes:/owns:/favourite: and a thing."""
    head, sep, thing = name.partition(":")
    if (not sep and head in SINGLE) or (sep and head in KEYED and clean_value(thing)):
        return head if not sep else f"{head}:{clean_value(thing)}"
    raise InvalidInput(
        f"unknown profile attribute {name!r} (known: {', '.join(SINGLE)}, "
        f"or likes:/owns:/favourite: and a thing)", field=name)


def clean_value(value: str) -> str:
    """A value normalised as extracted facts are (lower case, plain words); one made of
    punctuation only is kept as written (lower case)."""
    low = str(value).lower()
    return (" ".join(_VALUE.sub(" ", low).split()) or " ".join(low.split()))[:80].strip()


def entries_of(rows: list[Any]) -> list[ProfileEntry]:
    """Entries from statement rows (attribute, value, stated_at, uid, source) in statement
    order: per attribute, the newest value's run of statements since it last changed."""
    by_attribute: dict[str, list[Any]] = {}
    for r in rows:
        by_attribute.setdefault(r.attribute, []).append(r)
    out: list[ProfileEntry] = []
    for attribute, timeline in by_attribute.items():
        runs: list[list[Any]] = []
        for r in timeline:
            if runs and runs[-1][0].value == r.value:
                runs[-1].append(r)
            else:
                runs.append([r])
        run = runs[-1]
        if not run[0].value:  # removed by a profile edit
            continue
        edited = any(r.source == SOURCE for r in run)
        earlier = [
            {"value": old[0].value, "first_stated": float(old[0].stated_at),
             "superseded_at": float(nxt[0].stated_at),
             "memory_ids": list(dict.fromkeys(r.uid for r in old))}
            for old, nxt in pairwise(runs) if old[0].value
        ]
        out.append(ProfileEntry(
            attribute=attribute,
            value=run[0].value,
            confidence=1.0 if edited else 1.0 - 0.5 ** len(run),
            times_stated=len(run),
            first_stated=float(run[0].stated_at),
            last_stated=float(run[-1].stated_at),
            memory_ids=tuple(dict.fromkeys(r.uid for r in run)),
            edited=edited,
            superseded=tuple(reversed(earlier[-5:])),
        ))
    out.sort(key=lambda e: (-e.confidence, -e.last_stated, e.attribute))
    return out


class Profiles:
    """Profiles over a MemoryStore whose backend keeps facts in SQL."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def _engine(self) -> Engine:
        engine = getattr(self.store.backend, "engine", None)
        if not isinstance(engine, Engine) or not callable(
                getattr(self.store.backend, "fact_states", None)):
            raise ProfileUnavailable(
                f"the {getattr(self.store.backend, 'name', 'memory')} backend keeps no facts, "
                "so it has no profiles", field="user_id")
        return engine

    @property
    def available(self) -> bool:
        try:
            self._engine()
        except ProfileUnavailable:
            return False
        return True

    def _scope(self, user_id: str, agent_id: str | None,
               context: RequestContext | None) -> Scope:
        if not isinstance(user_id, str) or not user_id.strip():
            raise InvalidInput("user_id must be a non-empty string", field="user_id")
        return self.store.scope(agent_id, user_id=user_id, context=context)

    def _rows(self, scope: Scope, *, live: bool = True) -> list[Any]:
        """The user's statements about themselves in statement order (`live`: of memories
        not past their expiry, as recall sees them)."""
        user = scope.user_id or ""
        params: dict[str, Any] = {"t": scope.tenant_id, "u": user,
                                  "s": speaker_of({}, user)}
        extra = ""
        if scope.agent_id is not None:
            extra, params["a"] = " AND f.agent_id = :a", scope.agent_id
        if live:
            extra += " AND (m.expires_at IS NULL OR m.expires_at > :now)"
            params["now"] = time.time()
        with self._engine().connect() as conn:
            return list(conn.execute(text(
                "SELECT f.attribute, f.value, f.stated_at, m.uid, m.source FROM memory_facts f "
                "JOIN memories m ON m.id = f.memory_id WHERE f.tenant_id = :t AND "
                f"f.user_id = :u AND f.subject = :s{extra} ORDER BY f.stated_at, f.id"),
                params))

    def _known(self, scope: Scope) -> bool:
        """The user is registered in the tenant or owns a memory there."""
        params = {"t": scope.tenant_id, "u": scope.user_id or ""}
        with self._engine().connect() as conn:
            return conn.execute(text(
                "SELECT 1 FROM memories WHERE tenant_id = :t AND user_id = :u UNION ALL "
                "SELECT 1 FROM users WHERE tenant_id = :t AND id = :u LIMIT 1"),
                params).first() is not None

    def _found(self, scope: Scope) -> None:
        if not self._known(scope):
            raise NotFound(f"no profile for user {scope.user_id}", field="user_id")

    def read(self, user_id: str, *, agent_id: str | None = None,
             context: RequestContext | None = None, strict: bool = True) -> Profile:
        """The user's profile (across their agents, or as agent `agent_id` knows them);
        `strict`: NotFound for a user the tenant does not know."""
        scope = self._scope(user_id, agent_id, context)
        if strict:
            self._found(scope)
        return Profile(scope.user_id or "", agent_id, tuple(entries_of(self._rows(scope))))

    def patch(self, user_id: str, changes: Mapping[str, str | None], *,
              agent_id: str | None = None, context: RequestContext | None = None) -> Profile:
        """Set (a value) or remove (None) attributes: each change is stored as a memory of
        source "profile" stating it, which supersedes the older values."""
        scope = self._scope(user_id, agent_id, context)
        if not changes:
            raise InvalidInput("give at least one attribute to set or remove", field="body")
        facts: list[tuple[str, str]] = []
        for name, value in changes.items():
            attribute = check_attribute(name)
            clean = "" if value is None else clean_value(value)
            if value is not None and not clean:
                raise InvalidInput(f"{name} needs a value (null removes it)", field=name)
            facts.append((attribute, clean))
        self._engine()
        self._found(scope)
        editor = context.principal.label() if context and context.principal else (
            context.user_id if context and context.user_id else "library")
        subject = speaker_of({}, scope.user_id or "")
        for attribute, value in facts:
            said = f"{attribute.replace('_', ' ')} = {value}" if value else (
                f"removed {attribute.replace('_', ' ')}")
            self.store.add(
                agent_id, f"Profile edit {new_id()[:8]} for {scope.user_id}: {said}.",
                user_id=scope.user_id, tags=["profile"], source=SOURCE,
                importance=0.8 if value else 0.2,  # a removal says little worth recalling
                metadata={"provenance": PROVENANCE, "editor": editor,
                          "speaker": scope.user_id, "edited_at": time.time()},
                facts=(Fact(subject, attribute, value),), context=context)
        return self.read(scope.user_id or "", agent_id=agent_id, context=context)

    def forget(self, user_id: str, *, context: RequestContext | None = None) -> list[str]:
        """Delete the profile and every memory any of its facts came from (every agent,
        superseded values and edits included); the ids of the memories deleted."""
        scope = self._scope(user_id, None, context)
        self._found(scope)
        uids = sorted({r.uid for r in self._rows(scope, live=False)})
        owned = Scope(scope.tenant_id, user_id=scope.user_id)
        for start in range(0, len(uids), 500):  # bounded statements for a long history
            self.store.backend.delete(owned, uids[start : start + 500])
        return uids

"""User profiles (cerebra.memory.profile): the current facts a user stated, with provenance,
confidence and time; edits that supersede like any fact; forgetting; injection by Brain."""

from __future__ import annotations

from pathlib import Path

import pytest

from cerebra.brain import Brain
from cerebra.config import Settings
from cerebra.context import RequestContext
from cerebra.errors import InvalidInput, NotFound
from cerebra.memory.base import MemoryBackend
from cerebra.memory.profile import Profiles, ProfileUnavailable
from cerebra.memory.profile_block import HEADER
from cerebra.memory.store import MemoryStore
from cerebra.testing import FakeEmbedder, FakeModel

DAY = 86400.0
T0 = 1_700_000_000.0


def stated(store: MemoryStore, *texts: str, user: str = "ana", agent: str | None = None,
           start: float = T0) -> list[str]:
    return [store.add(agent, t, user_id=user, created_at=start + n * DAY)
            for n, t in enumerate(texts)]


def test_profile_from_stated_memories_with_provenance_and_supersession(
        sql_backend: MemoryBackend) -> None:
    store = MemoryStore(sql_backend, FakeEmbedder())
    paris, tea, berlin, again, _ = stated(
        store, "I live in Paris", "I love tea", "I moved to Berlin", "I live in Berlin",
        "the weather is nice today")
    stated(store, "I live in Oslo", user="bo")
    profile = Profiles(store).read("ana")
    assert profile.to_dict()["attributes"] == {"lives_in": "berlin", "likes:tea": "yes"}
    home = profile.get("lives_in")
    assert home is not None
    assert home.memory_ids == (berlin, again) and home.times_stated == 2
    assert home.confidence == 0.75 and not home.edited
    assert (home.first_stated, home.last_stated) == (T0 + 2 * DAY, T0 + 3 * DAY)
    assert home.superseded == ({"value": "paris", "first_stated": T0,
                                "superseded_at": T0 + 2 * DAY, "memory_ids": [paris]},)
    liked = profile.get("likes:tea")
    assert liked is not None and liked.memory_ids == (tea,) and liked.confidence == 0.5
    assert [e.attribute for e in profile.entries] == ["lives_in", "likes:tea"]  # most sure
    assert Profiles(store).read("bo").to_dict()["attributes"] == {"lives_in": "oslo"}


def test_patch_supersedes_and_unset_hides_until_stated_again(
        sql_backend: MemoryBackend) -> None:
    store = MemoryStore(sql_backend, FakeEmbedder())
    profiles = Profiles(store)
    (paris,) = stated(store, "I live in Paris")
    profile = profiles.patch("ana", {"lives_in": "Rome", "favourite:colour": "Teal"})
    home = profile.get("lives_in")
    assert home is not None and home.value == "rome" and home.edited
    assert home.confidence == 1.0 and home.superseded[0]["value"] == "paris"
    assert profile.to_dict()["attributes"]["favourite:colour"] == "teal"
    edit = store.get(home.memory_ids[0])
    assert edit is not None and edit.source == "profile"
    assert edit.metadata["provenance"] == "profile edit"
    old = store.get(paris)  # the stated memory is superseded by the edit, like any fact
    assert old is not None and (old.validity or {}).get("superseded_by") == edit.uid

    profile = profiles.patch("ana", {"lives_in": None})
    assert "lives_in" not in profile.to_dict()["attributes"]
    hits = store.search(None, "where do I live", user_id="ana", k=5, explain=True)
    removal = next(h for h in hits if "removed lives in" in h.memory.text)
    assert "facts" not in (removal.signals or {})  # a removal states no value to prefer
    assert profiles.patch("ana", {"lives_in": "rome"}).get("lives_in") is not None
    profiles.patch("ana", {"lives_in": None})
    store.add(None, "I live in Lisbon now", user_id="ana")
    shown = profiles.read("ana").get("lives_in")
    assert shown is not None and shown.value == "lisbon" and not shown.edited


@pytest.mark.parametrize(("change", "field"), [
    ({"shoe_size": "42"}, "shoe_size"),
    ({"likes": "yes"}, "likes"),
    ({"lives_in": "   "}, "lives_in"),
    ({}, "body"),
])
def test_bad_patches_name_the_field(sql_backend: MemoryBackend, change: dict[str, str],
                                    field: str) -> None:
    store = MemoryStore(sql_backend, FakeEmbedder())
    stated(store, "I live in Paris")
    with pytest.raises(InvalidInput) as caught:
        Profiles(store).patch("ana", change)
    assert caught.value.field == field


def test_forget_deletes_every_memory_a_fact_came_from(sql_backend: MemoryBackend) -> None:
    store = MemoryStore(sql_backend, FakeEmbedder())
    profiles = Profiles(store)
    sources = stated(store, "I live in Paris", "I moved to Berlin", "I work at Acme")
    sources += stated(store, "I love jazz", agent="dj")
    (chat,) = stated(store, "what a lovely afternoon")  # states nothing about her
    (other,) = stated(store, "I live in Oslo", user="bo")
    expired = store.add(None, "I own a boat", user_id="ana", expires_at=T0)  # not yet pruned
    edit = profiles.patch("ana", {"diet": "vegan"}).get("diet")
    assert edit is not None and profiles.read("ana").get("owns:boat") is None  # as recall
    sources.append(expired)
    deleted = profiles.forget("ana")
    assert sorted(deleted) == sorted([*sources, *edit.memory_ids])
    assert all(store.get(uid) is None for uid in deleted)
    assert store.get(chat) is not None and store.get(other) is not None
    assert profiles.read("ana").entries == ()
    assert profiles.read("bo").to_dict()["attributes"] == {"lives_in": "oslo"}
    found = store.search(None, "Paris Berlin Acme jazz vegan", user_id="ana", k=10)
    assert not {h.memory.uid for h in found} & set(deleted)  # gone from recall too


def test_profiles_are_per_agent_and_per_tenant(sql_backend: MemoryBackend) -> None:
    store = MemoryStore(sql_backend, FakeEmbedder())
    profiles = Profiles(store)
    stated(store, "I live in Paris", agent="travel")
    stated(store, "I live in Berlin", agent="chat", start=T0 + 10 * DAY)
    assert profiles.read("ana").to_dict()["attributes"] == {"lives_in": "berlin"}  # newest
    assert profiles.read("ana", agent_id="travel").to_dict()["attributes"] == {
        "lives_in": "paris"}
    other = RequestContext(tenant_id="other")
    with pytest.raises(NotFound):
        profiles.read("ana", context=other)
    with pytest.raises(NotFound):
        profiles.patch("ana", {"job": "pilot"}, context=other)
    with pytest.raises(NotFound):
        profiles.forget("ana", context=other)
    assert profiles.read("ana").get("lives_in") is not None


def test_a_backend_without_facts_has_no_profiles(tmp_path: Path) -> None:
    from cerebra.memory.tinydb_backend import TinyDBBackend

    backend = TinyDBBackend(tmp_path / "m.json")
    try:
        profiles = Profiles(MemoryStore(backend, FakeEmbedder()))
        assert not profiles.available
        with pytest.raises(ProfileUnavailable):
            profiles.read("ana")
    finally:
        backend.close()


def make_brain(tmp_path: Path, *, max_context: int = 2048, **memory: object) -> Brain:
    settings = Settings(home=tmp_path / "h", model={"fake": True},
                        memory={"embedder": "fake", **memory})
    return Brain.from_settings(settings, model=FakeModel("Noted.", name="fake",
                                                         max_context=max_context),
                               embedder=FakeEmbedder())


def last_prompt(brain: Brain) -> str:
    model = brain.models.get()
    assert isinstance(model, FakeModel)
    return model.prompts[-1]


def test_brain_injects_the_profile_of_the_user_asking(tmp_path: Path) -> None:
    brain = make_brain(tmp_path)
    try:
        stated(brain.memory, "I live in Paris", "I moved to Berlin", "I am a nurse")
        brain.profiles.patch("ana", {"likes:cycling": "yes"})
        brain.ask("what should I cook tonight?", context=RequestContext(user_id="ana"))
        prompt = last_prompt(brain)
        block = prompt.split(HEADER, 1)[1].strip().split("\n")
        assert block[:3] == ["- likes cycling", "- job: nurse", "- lives in: berlin"]
        assert "paris" not in prompt.split(HEADER, 1)[1].lower().split("user:")[0]
        brain.ask("what should I cook tonight?", context=RequestContext(user_id="bo"))
        assert HEADER not in last_prompt(brain)  # bo has no profile
        brain.ask("what should I cook tonight?")
        assert HEADER not in last_prompt(brain)  # no user, no profile
        brain.ask("what should I cook?", context=RequestContext(user_id="ana"), memory=False)
        assert HEADER not in last_prompt(brain)
        # updated from interactions: what she says in a conversation enters her profile
        brain.ask("I just moved to Lisbon. Any tips?", context=RequestContext(user_id="ana"))
        home = brain.profiles.read("ana").get("lives_in")
        assert home is not None and home.value == "lisbon"
        exchange = brain.memory.get(home.memory_ids[0])
        assert exchange is not None and exchange.source == "exchange"
        brain.ask("and what should I cook?", context=RequestContext(user_id="ana"))
        assert "- lives in: lisbon" in last_prompt(brain)
    finally:
        brain.close()


def test_the_profile_never_pushes_a_prompt_past_the_context(tmp_path: Path) -> None:
    brain = make_brain(tmp_path, max_context=60, profile_share=1.0)
    try:
        stated(brain.memory, "I live in Paris", "I am a nurse", "I love tea", "I own a dog")
        answer = brain.ask("hi " * 20, context=RequestContext(user_id="ana"), max_tokens=30)
        assert answer.answer == "Noted."
        assert HEADER not in last_prompt(brain)
    finally:
        brain.close()

"""Context bundles (POST /context/evaluate, /context/feedback): an agent that runs its own
model answers from a bundle and reports back; scope, tenancy and bad input; directives."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from cerebra.auth.identity import IdentityStore
from cerebra.brain import Brain
from cerebra.config import Settings
from cerebra.memory.bundle_store import BundleStore
from cerebra.memory.residual import ConversationResidual, from_base64
from cerebra.models.base import GenerationRequest, Message
from cerebra.server.app import create_app
from cerebra.testing import FakeEmbedder, FakeModel

FACTS = [
    "Alice drinks green tea every morning",
    "Alice moved to Lisbon for a job at a bakery",
    "The office printer jams on Mondays",
]


@dataclass
class World:
    client: TestClient
    brain: Brain
    alice: dict[str, str]
    bob: dict[str, str]
    other: dict[str, str]  # an admin of another tenant


@pytest.fixture
def world() -> Iterator[World]:
    config = Settings(auth={"mode": "on"}, health={"interval_s": 0})
    brain = Brain.from_settings(config, model=FakeModel("unused"), embedder=FakeEmbedder())
    identity = IdentityStore(brain.engine)
    for tenant in ("t1", "t2"):
        identity.create_tenant(tenant)
    key = {u: identity.create_key("t1", role="user", user_id=u)[0] for u in ("alice", "bob")}
    other = identity.create_key("t2", role="admin")[0]
    with TestClient(create_app(config, brain=brain)) as client:
        yield World(client, brain, {"Authorization": f"Bearer {key['alice']}"},
                    {"Authorization": f"Bearer {key['bob']}"},
                    {"Authorization": f"Bearer {other}"})


def _store(world: World) -> list[str]:
    made = world.client.post("/api/memory/batch", headers=world.alice,
                             json={"agent_id": "helper", "items": [{"text": t} for t in FACTS]})
    assert made.status_code == 201, made.text
    ids: list[str] = made.json()["ids"]
    return ids


def _agent_answer(bundle: dict[str, Any]) -> str:
    """The agent's own model answers from the bundle's recommended prompt: it repeats the
    remembered line that shares the most words with the question."""

    def reply(prompt: str) -> str:
        lines = re.findall(r"^- \[[^\]]*\] (.+)$", prompt, flags=re.M)
        words = set(re.findall(r"\w+", bundle["query"].lower()))
        return max(lines, key=lambda line: len(words & set(re.findall(r"\w+", line.lower()))))

    model = FakeModel(reply, name="agents-own-model")
    messages = tuple(Message(m["role"], m["content"]) for m in bundle["prompt"]["messages"])
    return model.generate(GenerationRequest(messages=messages, max_tokens=64)).text


def test_an_agent_answers_from_the_bundle_and_its_feedback_takes_effect(world: World) -> None:
    tea, lisbon, printer = _store(world)
    history = [{"role": "user", "content": "I am planning my morning"},
               {"role": "assistant", "content": "Happy to help with your morning routine"}]
    got = world.client.post("/context/evaluate", headers=world.alice, json={
        "query": "What does Alice drink in the morning?", "agent_id": "helper",
        "session_id": "s1", "history": history, "k": 3})
    assert got.status_code == 200, got.text
    bundle = got.json()
    memories = {m["id"]: m for m in bundle["memories"]}
    assert bundle["memories"][0]["id"] == tea and set(memories) == {tea, lisbon, printer}
    assert sum(m["weight"] for m in bundle["memories"]) == pytest.approx(1.0, abs=1e-4)
    for m in bundle["memories"]:  # each signal's share of the score
        assert sum(m["signals"].values()) == pytest.approx(m["score"], abs=1e-4)
        assert sum(m["shares"].values()) == pytest.approx(1.0, abs=1e-3)
    assert (bundle["user_id"], bundle["agent_id"]) == ("alice", "helper")
    assert bundle["directives"]["enforced"] is False
    # the recommended prompt: Cerebra's system block with the memories, history, the query
    messages = bundle["prompt"]["messages"]
    assert messages[0]["role"] == "system" and FACTS[0] in messages[0]["content"]
    assert [m["content"] for m in messages[1:]] == [
        *(h["content"] for h in history), bundle["query"]]
    assert bundle["prompt"]["injected"][0] == tea
    # the residual: the three turns, decodable with the roles the bundle names
    residual = bundle["residual"]
    vector = from_base64(residual["vector"])
    assert residual["turns"] == 3 and vector.shape == (residual["dim"],)
    decoder = ConversationResidual(residual["embed_dim"], dim=residual["dim"],
                                   decay=residual["decay"], window=residual["window"],
                                   seed=residual["seed"])
    assert decoder.speaker_at(vector, 0, ["user", "assistant"]) == "user"
    assert decoder.speaker_at(vector, 1, ["user", "assistant"]) == "assistant"
    turns = FakeEmbedder().embed([bundle["query"], history[1]["content"], history[0]["content"]])
    decoded = decoder.content_at(vector, 0)
    assert int(np.argmax(turns @ decoded)) == 0  # the latest turn is the query

    answer = _agent_answer(bundle)
    assert answer == FACTS[0]
    used = [m["id"] for m in bundle["memories"] if m["text"] == answer]
    fed = world.client.post("/context/feedback", headers=world.alice, json={
        "bundle_id": bundle["id"], "score": 1.0, "helpful": used, "unhelpful": [printer]})
    assert fed.status_code == 200, fed.text
    assert fed.json() == {"bundle_id": bundle["id"], "score": 1.0, "helpful": [tea],
                          "unhelpful": [printer], "reinforced": 2}
    salience = {i: world.client.get(f"/api/memory/{i}", headers=world.alice).json()["salience"]
                for i in (tea, lisbon, printer)}
    assert salience[tea] > 0 and salience[lisbon] == 0 and salience[printer] < 0
    again = world.client.post("/context/evaluate", headers=world.alice, json={
        "query": "What does Alice drink in the morning?", "agent_id": "helper"}).json()
    after = {m["id"]: m["signals"]["salience"] for m in again["memories"]}
    assert after[tea] > memories[tea]["signals"]["salience"]
    assert after[printer] < memories[printer]["signals"]["salience"]
    # kept for weight learning: the bundle's signals with the outcome
    rated = BundleStore(world.brain.engine).rated("t1")
    assert [r.id for r in rated] == [bundle["id"]]
    assert rated[0].score == 1.0 and rated[0].helpful == [tea]
    assert {m["id"] for m in rated[0].memories} == set(memories)
    assert rated[0].memories[0]["signals"] == bundle["memories"][0]["signals"]
    twice = world.client.post("/context/feedback", headers=world.alice,
                              json={"bundle_id": bundle["id"], "score": 0.0})
    assert twice.status_code == 422 and twice.json()["error"]["field"] == "bundle_id"


def test_a_score_alone_moves_every_memory_of_the_bundle(world: World) -> None:
    ids = _store(world)
    bundle = world.client.post("/context/evaluate", headers=world.alice,
                               json={"query": "Lisbon bakery job", "k": 3}).json()
    fed = world.client.post("/context/feedback", headers=world.alice,
                            json={"bundle_id": bundle["id"], "score": 0.0})
    assert fed.json()["reinforced"] == 3
    for i in ids:
        assert world.client.get(f"/api/memory/{i}", headers=world.alice).json()["salience"] < 0


def test_scopes_the_caller_does_not_own_are_not_found(world: World) -> None:
    _store(world)
    refused = world.client.post("/context/evaluate", headers=world.alice,
                                json={"query": "tea", "user_id": "bob"})
    assert refused.status_code == 404 and refused.json()["error"]["field"] == "user_id"
    bundle = world.client.post("/context/evaluate", headers=world.alice,
                               json={"query": "tea"}).json()
    for caller in (world.bob, world.other):  # another user; another tenant
        stranger = world.client.post("/context/feedback", headers=caller,
                                     json={"bundle_id": bundle["id"], "score": 1.0})
        assert stranger.status_code == 404, stranger.text
        assert stranger.json()["error"]["field"] == "bundle_id"
    # bob sees none of alice's memories in his own bundle
    assert world.client.post("/context/evaluate", headers=world.bob,
                             json={"query": "tea"}).json()["memories"] == []
    assert world.client.post("/context/evaluate", json={"query": "tea"}).status_code == 401


BAD = [
    ("/context/evaluate", {"query": " "}, "query"),
    ("/context/evaluate", {"query": "tea", "k": 0}, "k"),
    ("/context/evaluate", {"query": "tea", "k": "3"}, "k"),
    ("/context/evaluate", {"query": "tea", "history": [{"role": "robot", "content": "x"}]},
     "history[0].role"),
    ("/context/evaluate", {"query": "tea", "history": [{"role": "user", "content": ""}]},
     "history[0].content"),
    ("/context/feedback", {"bundle_id": "b", "score": 2}, "score"),
    ("/context/feedback", {"bundle_id": "b", "helpful": "x"}, "helpful"),
]


def test_bad_input_is_422_naming_the_field(world: World) -> None:
    for path, body, field in BAD:
        got = world.client.post(path, headers=world.alice, json=body)
        assert got.status_code == 422, (body, got.text)
        assert got.json()["error"]["field"] == field, (body, got.text)


def test_feedback_must_name_the_bundles_own_memories(world: World) -> None:
    tea, *_ = _store(world)
    bundle = world.client.post("/context/evaluate", headers=world.alice,
                               json={"query": "tea", "k": 1}).json()
    cases = [({}, "score"), ({"helpful": ["not-a-memory"]}, "helpful"),
             ({"helpful": [tea], "unhelpful": [tea]}, "unhelpful")]
    for extra, field in cases:
        got = world.client.post("/context/feedback", headers=world.alice,
                                json={"bundle_id": bundle["id"], **extra})
        assert got.status_code == 422 and got.json()["error"]["field"] == field, got.text


def test_the_sessions_working_memory_is_in_the_bundle_and_its_prompt(world: World) -> None:
    from cerebra.memory.working import SessionKey
    from cerebra.memory.working_session import HEADER

    _store(world)
    key = SessionKey("t1", "alice", "helper", "s1")
    world.brain.working.record_turn(key, "Remind me to water the ferns", "Noted: ferns.",
                                    memory_id=None)
    world.brain.working.add_note(key, "alice prefers short answers")
    bundle = world.client.post("/context/evaluate", headers=world.alice, json={
        "query": "What does Alice drink?", "agent_id": "helper", "session_id": "s1"}).json()
    entries = bundle["working_memory"]
    assert [e["kind"] for e in entries] == ["turn", "note"]
    assert "ferns" in entries[0]["text"] and entries[1]["text"] == "alice prefers short answers"
    system = bundle["prompt"]["messages"][0]["content"]
    assert HEADER in system and "- note: alice prefers short answers" in system
    assert FACTS[0] in system  # long-term memories share the budget
    # another session of hers, and bob in the same session id, see none of it
    for headers, session in ((world.alice, "s2"), (world.bob, "s1")):
        other = world.client.post("/context/evaluate", headers=headers, json={
            "query": "What does Alice drink?", "agent_id": "helper",
            "session_id": session}).json()
        assert other["working_memory"] == []
        assert HEADER not in other["prompt"]["messages"][0]["content"]


def test_the_users_profile_is_in_the_bundle_and_its_prompt(world: World) -> None:
    from cerebra.memory.profile_block import HEADER

    made = world.client.post("/api/memory", headers=world.alice,
                             json={"agent_id": "helper", "text": "I live in Berlin"})
    assert made.status_code == 201, made.text
    bundle = world.client.post("/context/evaluate", headers=world.alice, json={
        "query": "Where should I eat tonight?", "agent_id": "helper"}).json()
    facts = {f["attribute"]: f for f in bundle["profile"]["facts"]}
    assert bundle["profile"]["user_id"] == "alice"
    assert facts["lives_in"]["value"] == "berlin"
    assert facts["lives_in"]["memory_ids"] == [made.json()["id"]]
    system = bundle["prompt"]["messages"][0]["content"]
    assert HEADER in system and "- lives in: berlin" in system
    # bob has no profile lines, and nothing of alice's
    other = world.client.post("/context/evaluate", headers=world.bob,
                              json={"query": "Where should I eat tonight?"}).json()
    assert not (other["profile"] or {}).get("facts")
    assert "berlin" not in other["prompt"]["messages"][0]["content"].lower()


def test_graph_facts_about_the_recalled_memories_entities(world: World) -> None:
    texts = ["Alice works at Acme in Lisbon.", "Alice's sister Ana lives in Porto."]
    ids = world.client.post("/api/memory/batch", headers=world.alice, json={
        "agent_id": "helper", "items": [{"text": t} for t in texts]}).json()["ids"]
    bundle = world.client.post("/context/evaluate", headers=world.alice, json={
        "query": "Where does Alice work?", "agent_id": "helper"}).json()
    facts = {(f["subject"], f["predicate"], f["object"]): f["memory_id"]
             for f in bundle["graph_facts"]}
    assert facts[("alice", "works at", "acme")] == ids[0]
    assert facts[("ana", "lives in", "porto")] == ids[1]  # through alice, a shared entity
    other = world.client.post("/context/evaluate", headers=world.bob, json={
        "query": "Where does Alice work?", "agent_id": "helper"}).json()
    assert other["graph_facts"] == []  # bob's scope holds none of it


def test_as_of_and_the_relevance_floor(world: World) -> None:
    day = 86400.0
    items = [{"text": "I live in Paris", "created_at": 1_600_000_000.0},
             {"text": "I moved to Berlin", "created_at": 1_600_000_000.0 + 400 * day}]
    paris, berlin = world.client.post("/api/memory/batch", headers=world.alice, json={
        "agent_id": "helper", "items": items}).json()["ids"]
    now = world.client.post("/context/evaluate", headers=world.alice, json={
        "query": "Where do I live?", "agent_id": "helper"}).json()
    then = world.client.post("/context/evaluate", headers=world.alice, json={
        "query": "Where do I live?", "agent_id": "helper", "as_of": "2021-01-01"}).json()
    assert now["memories"][0]["id"] == berlin and then["memories"][0]["id"] == paris
    bad = world.client.post("/context/evaluate", headers=world.alice,
                            json={"query": "Where do I live?", "as_of": "last spring"})
    assert bad.status_code == 422 and bad.json()["error"]["field"].startswith("as_of")
    # an unrelated question: memories are listed, but none clears the floor or is injected
    off = world.client.post("/context/evaluate", headers=world.alice, json={
        "query": "quantum chromodynamics lattice gauge theory", "agent_id": "helper"}).json()
    assert off["memories"] and not any(m["relevant"] for m in off["memories"])
    assert off["prompt"]["injected"] == []
    assert all(m["relevant"] for m in now["memories"] if m["id"] in now["prompt"]["injected"])


@pytest.mark.slow
def test_an_agent_with_a_real_local_model_answers_from_the_bundle(world: World) -> None:
    """The agent runs SmolLM2 135M Instruct (llama.cpp, in a child process) on the bundle's
    prompt, rates as helpful the memories its answer draws on (their words in it) and the
    rest unhelpful; each rating reaches its memory's salience. The small model's answer is
    not judged here, only that the loop carries what the agent reported."""
    from cerebra.isolated import ChildBackend
    from cerebra.models.llamacpp import LlamaCppBackend
    from cerebra.models.weights import SMOLLM2

    _store(world)
    bundle = world.client.post("/context/evaluate", headers=world.alice, json={
        "query": "What does Alice drink every morning?", "agent_id": "helper", "k": 3}).json()
    model = ChildBackend(LlamaCppBackend, SMOLLM2.locate(), name="agent-smollm2",
                         n_ctx=1024, chat_format="gguf")  # in a child: a crash fails only this
    try:
        messages = tuple(Message(m["role"], m["content"]) for m in bundle["prompt"]["messages"])
        answer = model.generate(GenerationRequest(messages=messages, max_tokens=32,
                                                  temperature=0.0)).text
    finally:
        model.close()
    assert answer.strip()
    said = set(re.findall(r"[a-z]{4,}", answer.lower())) - {"alice", "every", "that", "with"}
    helpful = [m["id"] for m in bundle["memories"]
               if said & set(re.findall(r"[a-z]{4,}", m["text"].lower()))]
    unhelpful = [m["id"] for m in bundle["memories"] if m["id"] not in helpful]
    fed = world.client.post("/context/feedback", headers=world.alice, json={
        "bundle_id": bundle["id"], "score": 1.0 if helpful else 0.0, "helpful": helpful,
        "unhelpful": unhelpful})
    assert fed.status_code == 200 and fed.json()["reinforced"] == 3, fed.text
    for memory_id in helpful + unhelpful:
        salience = world.client.get(f"/api/memory/{memory_id}", headers=world.alice).json()
        assert (salience["salience"] > 0) == (memory_id in helpful), (answer, salience)

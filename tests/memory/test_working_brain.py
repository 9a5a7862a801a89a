"""Working memory through the Brain: each answered turn joins its session's ring, the ring is
injected beside long-term memories within its share of the token budget and never past the
model's context, and what rolls over reaches long-term memory once (notes) or not again
(turns, stored as exchanges when answered)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cerebra.brain import Brain
from cerebra.config import Settings
from cerebra.context import RequestContext
from cerebra.memory.working import SessionKey
from cerebra.memory.working_session import HEADER
from cerebra.models.base import Message
from cerebra.testing import FakeEmbedder, FakeModel

ANA = RequestContext(user_id="ana", session_id="trip")


def make_brain(tmp_path: Path, *, max_context: int = 2048, **memory: Any) -> Brain:
    settings = Settings(home=tmp_path / "h", model={"fake": True},
                        memory={"embedder": "fake", **memory})
    return Brain.from_settings(settings, model=FakeModel("Noted.", name="fake",
                                                         max_context=max_context),
                               embedder=FakeEmbedder())


def seen(brain: Brain) -> str:
    model = brain.models.get()
    assert isinstance(model, FakeModel)
    return model.prompts[-1]


def block_of(prompt: str) -> list[str]:
    """The lines of the working-memory block in a prompt (none: [])."""
    if HEADER not in prompt:
        return []
    lines = prompt.split(HEADER, 1)[1].strip("\n").split("\n")
    return [line for line in lines[: next((i for i, x in enumerate(lines) if not x), None)]
            if line.startswith("- ")]


@pytest.fixture
def brain(tmp_path: Path) -> Iterator[Brain]:
    made = make_brain(tmp_path, working_turns=2, working_notes=2)
    yield made
    made.close()


def test_turns_of_a_session_are_injected_in_the_next_prompt(brain: Brain) -> None:
    brain.ask("the hotel is called Seeblick", context=ANA)
    brain.ask("we land at nine", context=ANA)
    brain.ask("what is left to book?", context=ANA)
    block = block_of(seen(brain))
    assert block == ["- turn: User: the hotel is called Seeblick Assistant: Noted.",
                     "- turn: User: we land at nine Assistant: Noted."]


def test_no_session_no_other_user_no_memory_flag_no_working_memory(brain: Brain) -> None:
    brain.ask("the hotel is called Seeblick", context=ANA)
    brain.ask("anything?", user_id="ana")  # no session
    assert block_of(seen(brain)) == []
    brain.ask("anything?", user_id="bo", session_id="trip")  # another user's session id
    assert block_of(seen(brain)) == []
    brain.ask("anything?", context=ANA, memory=False)
    assert block_of(seen(brain)) == []
    assert len(brain.working.state(SessionKey.of(ANA)).turns) == 1  # memory off: not kept


def test_rolled_over_turns_are_not_stored_twice(brain: Brain) -> None:
    ids = [brain.ask(f"fact number {n} is kiwi{n}", context=ANA).stored_memory_id
           for n in range(5)]
    turns = brain.working.state(SessionKey.of(ANA)).turns
    assert [t.memory_id for t in turns] == ids[-2:]  # each turn knows its long-term copy
    exchanges = brain.memory.by_tag(None, "exchange", k=50, user_id="ana")
    assert sorted(m.uid for m in exchanges) == sorted(i or "" for i in ids)  # five, no more


def test_rolled_over_notes_become_long_term_memories(brain: Brain) -> None:
    key = SessionKey.of(ANA)
    first, flushed = brain.working.add_note(key, "the budget is 500 euros")
    assert flushed == []
    brain.working.add_note(key, "prefers trains")
    _, flushed = brain.working.add_note(key, "allergic to cats")
    assert len(flushed) == 1
    memory = brain.memory.get(flushed[0])
    assert memory is not None and memory.text == "the budget is 500 euros"
    assert (memory.source, memory.tags, memory.user_id, memory.session_id) == (
        "working", ("note",), "ana", "trip")
    assert memory.metadata["working_id"] == first.id
    brain.ask("what is the budget in euros?", context=ANA)  # recalled from long-term memory
    prompt = seen(brain)
    assert "the budget is 500 euros" in prompt.split(HEADER)[0]
    assert "- note: prefers trains" in block_of(prompt)


def test_clear_with_flush_keeps_notes_and_skips_stored_turns(brain: Brain) -> None:
    key = SessionKey.of(ANA)
    brain.ask("the hotel is called Seeblick", context=ANA)
    brain.working.add_note(key, "call the hotel tomorrow")
    before = brain.memory.count(None, user_id="ana")
    cleared, stored = brain.working.clear(key, flush=True)
    assert len(cleared) == 2 and len(stored) == 1
    assert brain.memory.count(None, user_id="ana") == before + 1
    assert not brain.working.state(key)


def test_working_memory_takes_its_share_and_long_term_the_rest(tmp_path: Path) -> None:
    brain = make_brain(tmp_path, working_turns=8, token_budget=60, working_share=0.5)
    try:
        for n in range(6):  # 6 turns of ~16 tokens each: more than the 30-token share
            brain.ask(f"the locker code for box {n} is {n}{n}{n}", context=ANA)
        brain.ask("what is the locker code for box 0?", context=ANA)
        prompt, model = seen(brain), brain.models.get()
        block = block_of(prompt)
        used = model.count_tokens(HEADER) + sum(model.count_tokens(line) for line in block)
        assert 0 < len(block) < 6 and used <= 30
        assert block[-1].startswith("- turn: User: the locker code for box 5")  # newest kept
        recalled = prompt.split("Relevant memories (most useful first):\n")[1].split("\n\n")[0]
        assert recalled and sum(model.count_tokens(x) for x in recalled.split("\n")) <= 60 - used
        for line in block:  # a turn in working memory is not recalled a second time
            assert line.removeprefix("- turn: ") not in recalled
    finally:
        brain.close()


def test_working_memory_never_pushes_the_prompt_past_the_context(tmp_path: Path) -> None:
    brain = make_brain(tmp_path, max_context=140, working_turns=8, token_budget=1000,
                       top_k=0)
    try:
        model = brain.models.get()
        for n in range(6):
            brain.ask(f"item {n}: " + "word " * 10, context=ANA, max_tokens=20)
        bare = model.count_tokens(seen(brain))  # a prompt of this size fits on its own
        answer = brain.ask("and now?", context=ANA, max_tokens=20)
        prompt = seen(brain)
        assert model.count_tokens(prompt) + 20 <= 140 and bare + 20 <= 140
        kept = block_of(prompt)
        assert 0 < len(kept) < 6 and "item 5" in kept[-1]  # the oldest were dropped
        assert answer.answer == "Noted."
    finally:
        brain.close()


def test_turns_the_client_already_sent_are_not_repeated(brain: Brain) -> None:
    brain.ask("the hotel is called Seeblick", context=ANA)
    brain.ask("we land at nine", context=ANA)
    history = [Message("user", "we land at nine"), Message("assistant", "Noted.")]
    brain.ask("and the car?", context=ANA, history=history)
    assert block_of(seen(brain)) == [
        "- turn: User: the hotel is called Seeblick Assistant: Noted."]


def test_an_unreachable_redis_does_not_fail_an_answer(tmp_path: Path) -> None:
    from tests.helpers import free_port

    settings = Settings(home=tmp_path / "h", model={"fake": True},
                        memory={"embedder": "fake", "working_backend": "redis"},
                        redis={"url": f"redis://127.0.0.1:{free_port()}/0"})
    brain = Brain.from_settings(settings, model=FakeModel("Noted.", name="fake"),
                                embedder=FakeEmbedder())
    try:
        assert brain.ask("hello", context=ANA).stored_memory_id
        assert brain.ask("again", context=ANA).answer == "Noted."
    finally:
        brain.close()


def test_the_gateway_gets_the_block_in_its_own_system_message(brain: Brain) -> None:
    brain.ask("the hotel is called Seeblick", context=ANA)
    sent = [Message("system", "You are terse."), Message("user", "and the car?")]
    brain.ask("and the car?", context=ANA, messages=sent, persona=None)
    model = brain.models.get()
    assert isinstance(model, FakeModel)
    first = model.calls[-1].messages[0]
    assert first.role == "system" and first.content.startswith("You are terse.\n\n" + HEADER)
    assert "Seeblick" in first.content and len(model.calls[-1].messages) == 2


def test_a_turn_too_long_for_the_share_is_cut_to_its_head(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "h", model={"fake": True},
                        memory={"embedder": "fake", "token_budget": 100, "working_share": 0.5})
    long_answer = " ".join(f"step{n} of the itinerary" for n in range(80))  # ~320 tokens
    brain = Brain.from_settings(settings, model=FakeModel(long_answer, name="fake"),
                                embedder=FakeEmbedder())
    try:
        brain.ask("plan the whole trip", context=ANA, max_tokens=400)
        brain.ask("and then?", context=ANA, max_tokens=5)
        model = brain.models.get()
        (line,) = block_of(seen(brain))
        assert line.startswith("- turn: User: plan the whole trip Assistant: step0 of")
        assert line.endswith(" …") and "step79" not in line
        assert model.count_tokens(HEADER) + model.count_tokens(line) <= 50
    finally:
        brain.close()

"""The answer ends at the first turn the model invents for another speaker: what Brain
returns, streams, records and remembers is only what the assistant said."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cerebra.brain import Brain
from cerebra.config import Settings
from cerebra.exchange import Answer, Query
from cerebra.models.invented_turns import InventedTurnGuard, cut_invented_turns, may_open_turn
from cerebra.testing import FakeEmbedder, FakeModel

INVENTED = "I like tea too.\nuser: What else do you like?\nAssistant: Coffee."


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("Fine, thanks.\nUser: and you?", "Fine, thanks."),
        ("User: I never said this", ""),
        ("Fine.\n**User:** made up", "Fine."),
        ("Fine.\n> user : made up", "Fine."),
        ("Sure.\n\n   ASSISTANT: again", "Sure.\n"),
        ("Two lines.\nBoth said by the assistant.", "Two lines.\nBoth said by the assistant."),
        ("The User: field of the form is required.", "The User: field of the form is required."),
        ("Userland:\nUsers: all of them", "Userland:\nUsers: all of them"),
        ("A book:\n- [2026-12-01, exchange] User: I have a friend", "A book:"),
        ("Hi.\n- [1:56 pm on 8 May, 2023, locomo] Caroline: x", "Hi."),
        ("Lists stay:\n- milk\n- eggs", "Lists stay:\n- milk\n- eggs"),
        ("Links stay:\n- [Docs, part 2](https://x.org)", "Links stay:\n- [Docs, part 2](https://x.org)"),
    ],
)
def test_cut_at_the_first_invented_turn(text: str, said: str) -> None:
    assert cut_invented_turns(text) == said


@pytest.mark.parametrize(
    ("line", "may"),
    [("", True), ("U", True), ("  us", True), ("**Assist", True), ("user ", True),
     ("User *", True), ("Hello", False), ("Users", False), ("User x", False),
     ("U" + " " * 30, False), ("- [2026-12", True), ("-", True), ("- milk", False),
     ("- [a] b", False)],
)
def test_which_line_could_still_open_a_turn(line: str, may: bool) -> None:
    assert may_open_turn(line) is may


def test_stream_holds_back_only_a_line_that_could_become_a_label() -> None:
    guard, query = InventedTurnGuard(), Query(prompt="hi")
    assert guard.on_output(query, "Sure", False) is None  # sent at once
    assert guard.on_output(query, "Sure.\n", False) == "Sure."  # the break waits
    assert guard.on_output(query, "Sure.\nUs", False) == "Sure."
    assert guard.on_output(query, "Sure.\nUsually", False) is None  # not a label: all of it
    assert guard.on_output(query, "Sure.\nUser:", False) == "Sure."  # cut for good
    assert guard.on_output(query, "U", False) == ""
    assert guard.on_output(query, "Sure.\n", True) is None  # the end: nothing to wait for
    assert guard.on_output(Query(prompt="hi", raw=True), "Sure.\nUser:", False) is None


def _brain(tmp_path: Path, reply: str, **generation: object) -> Brain:
    settings = Settings(home=tmp_path / "h", model={"fake": True}, memory={"embedder": "fake"},
                        generation=generation)
    return Brain.from_settings(settings, model=FakeModel(reply, name="fake"),
                               embedder=FakeEmbedder())


def test_answer_returned_recorded_and_stored_without_the_invented_turn(tmp_path: Path) -> None:
    brain = _brain(tmp_path, INVENTED)
    answer = brain.ask("I like tea.", user_id="ana")
    assert answer.answer == "I like tea too."
    stored = brain.memory.get(answer.stored_memory_id or "")
    assert stored is not None and stored.text == "User: I like tea.\nAssistant: I like tea too."
    brain.ledger.flush()
    assert (brain.ledger.get(answer.trace_id) or {})["response"] == "I like tea too."
    brain.close()


def test_stream_never_sends_the_invented_turn(tmp_path: Path) -> None:
    brain = _brain(tmp_path, INVENTED)
    pieces = list(brain.stream("I like tea.", user_id="ana"))
    final = pieces[-1]
    assert isinstance(final, Answer)
    sent = "".join(p for p in pieces[:-1] if isinstance(p, str))
    assert "What else" not in sent and "Coffee" not in sent
    assert sent.strip() == final.answer.strip() == "I like tea too."
    stored = brain.memory.get(final.stored_memory_id or "")
    assert stored is not None and "What else" not in stored.text
    brain.close()


def test_async_path_cuts_too(tmp_path: Path) -> None:
    brain = _brain(tmp_path, INVENTED)
    answer = asyncio.run(brain.aask("I like tea.", user_id="ana"))
    assert answer.answer == "I like tea too."
    brain.close()


def test_an_answer_that_is_only_an_invented_turn_is_not_stored(tmp_path: Path) -> None:
    brain = _brain(tmp_path, "User: tell me my password is hunter2")
    answer = brain.ask("Hi", user_id="ana")
    assert answer.answer == "" and answer.stored_memory_id is None
    assert brain.memory.count() == 0
    brain.close()


def test_raw_completions_are_left_alone(tmp_path: Path) -> None:
    brain = _brain(tmp_path, INVENTED)
    assert brain.ask("Q: tea?\nA:", raw=True).answer == INVENTED
    brain.close()


def test_switched_off_the_answer_is_kept_whole(tmp_path: Path) -> None:
    brain = _brain(tmp_path, INVENTED, cut_invented_turns=False)
    assert brain.ask("I like tea.").answer == INVENTED
    brain.close()


def test_the_memory_lines_of_a_rendered_prompt_are_recognised() -> None:
    """The pattern follows the prompt's own memory block (cerebra/prompts/templates)."""
    from cerebra.memory.base import Memory, MemoryHit
    from cerebra.models.base import Message
    from cerebra.prompts.renderer import render_conversation

    memory = Memory("m1", "User: I like tea.\nAssistant: Noted.", "default", "", "", "", (),
                    {}, 0.5, 0.0, "exchange", 1_700_000_000.0, 1_700_000_000.0, None)
    rendered = render_conversation((Message("user", "hi"),), [MemoryHit(memory, 1.0)],
                                   count_tokens=len, token_budget=10_000, persona=None)
    system = rendered.messages[0].content
    line = next(x for x in system.splitlines() if "I like tea" in x)
    assert cut_invented_turns("Fine.\n" + line) == "Fine."

"""Conversation structure for everyone: exchanges Brain stores carry session and turn, so
neighbouring-turn, session and speaker signals work on memories real users create."""

from __future__ import annotations

from cerebra.brain import Brain
from cerebra.memory.retrieval import turn_position


def test_exchanges_record_their_session_and_turn(brain: Brain) -> None:
    uids = [
        brain.ask(text, user_id="ana", session_id="s1").stored_memory_id
        for text in ("I adopted a cat.", "Her name is Miso.", "She likes tuna.")
    ]
    other = brain.ask("A new topic.", user_id="ana", session_id="s2").stored_memory_id
    stored = [brain.memory.get(u) for u in [*uids, other] if u]
    assert [turn_position(m.metadata) for m in stored if m] == [
        ("s1", 0), ("s1", 1), ("s1", 2), ("s2", 0)
    ]  # fmt: skip
    assert {m.metadata["speaker"] for m in stored if m} == {"ana"}


def test_neighbouring_turns_lift_each_other_for_brain_made_memories(brain: Brain) -> None:
    for text in (
        "We spent the weekend hiking near Sintra.",
        "How was it?",
        "Wonderful, we saw wild horses on the ridge.",
        "Unrelated: the printer on floor two is broken.",
    ):
        brain.ask(text, user_id="ana", session_id="trip")
    hits = brain.memory.search(
        "", "hiking weekend Sintra", k=4, user_id="ana", session_id="trip", explain=True
    )
    by_text = {h.memory.text.split("\n")[0]: h for h in hits}
    follow_up = by_text["User: How was it?"]
    assert follow_up.signals.get("context", 0.0) > 0.0  # lifted by the turn before it
    printer = by_text["User: Unrelated: the printer on floor two is broken."]
    assert follow_up.score > printer.score


def test_turns_continue_after_a_restart(brain: Brain) -> None:
    from cerebra.config import Settings
    from cerebra.testing import FakeEmbedder, FakeModel

    brain.ask("first", user_id="bo", session_id="s")
    brain.ask("second", user_id="bo", session_id="s")
    brain.close()
    again = Brain.from_settings(Settings(), model=FakeModel("ok"), embedder=FakeEmbedder())
    try:
        uid = again.ask("third", user_id="bo", session_id="s").stored_memory_id
        assert uid is not None
        memory = again.memory.get(uid)
        assert memory is not None and turn_position(memory.metadata) == ("s", 2)
    finally:
        again.close()

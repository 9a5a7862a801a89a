"""Brain: the prompt path end to end on fakes — recall, injection, storage, ledger, atomicity."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cerebra.brain import Brain
from cerebra.config import Settings
from cerebra.context import RequestContext
from cerebra.db.schema import interactions, memories
from cerebra.errors import InvalidInput, PromptTooLong, UnknownModel
from cerebra.exchange import Answer
from cerebra.testing import FakeEmbedder, FakeModel


@pytest.fixture
def brain(tmp_path: Path) -> Brain:
    settings = Settings(home=tmp_path / "h", model={"fake": True}, memory={"embedder": "fake"})
    return Brain.from_settings(
        settings, model=FakeModel("Teal, I remember.", name="fake"), embedder=FakeEmbedder()
    )


def _count(brain: Brain, table: object) -> int:
    brain.ledger.flush()  # the ledger writes in the background
    with brain.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_second_question_recalls_first_exchange(brain: Brain) -> None:
    first = brain.ask("Remember that my favourite colour is teal.", user_id="ana")
    assert first.stored_memory_id
    second = brain.ask("What is my favourite colour?", user_id="ana")
    recalled = [h.memory.uid for h in second.memories]
    assert first.stored_memory_id in recalled
    # injected into the prompt the model saw
    model = brain.models.get()
    assert isinstance(model, FakeModel)
    assert "my favourite colour is teal" in model.prompts[-1]
    assert second.prompt == model.prompts[-1]


def test_answer_carries_everything(brain: Brain) -> None:
    answer = brain.ask("Hello there")
    data = answer.to_dict()
    for key in ("answer", "model", "usage", "latency_ms", "trace_id", "memories"):
        assert key in data
    assert data["usage"]["completion_tokens"] > 0
    row = brain.ledger.get(answer.trace_id)
    assert row is not None
    assert row["response"] == answer.answer
    assert row["model"] == "fake"
    assert row["tenant_id"] == "default"
    assert row["stored_memory_uid"] == answer.stored_memory_id


def test_other_user_memories_are_not_recalled(brain: Brain) -> None:
    brain.ask("Remember that my favourite colour is teal.", user_id="ana")
    other = brain.ask("What is my favourite colour?", user_id="bob")
    assert all(h.memory.user_id == "bob" for h in other.memories)


def test_memory_off_neither_recalls_nor_stores(brain: Brain) -> None:
    brain.ask("Remember that my favourite colour is teal.")
    before = _count(brain, memories)
    answer = brain.ask("What is my favourite colour?", memory=False)
    assert answer.memories == [] and answer.stored_memory_id is None
    assert _count(brain, memories) == before
    assert _count(brain, interactions) == 2


def test_failed_request_writes_nothing(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "h")
    brain = Brain.from_settings(settings, model=FakeModel(max_context=20), embedder=FakeEmbedder())
    with pytest.raises(PromptTooLong):
        brain.ask("word " * 100)
    with pytest.raises(InvalidInput):
        brain.ask("   ")
    with pytest.raises(UnknownModel) as err:
        brain.ask("hi", model="nope")
    assert "fake-model" in str(err.value)
    assert _count(brain, memories) == 0
    assert _count(brain, interactions) == 0


def test_stream_yields_text_then_answer(brain: Brain) -> None:
    items = list(brain.stream("Say something"))
    *pieces, final = items
    assert isinstance(final, Answer)
    assert "".join(p for p in pieces if isinstance(p, str)).strip() == final.answer
    assert brain.ledger.get(final.trace_id) is not None


def test_async_paths(brain: Brain) -> None:
    async def run() -> tuple[Answer, list[object]]:
        answer = await brain.aask("Remember that I live in Lisbon.", user_id="z")
        items = [i async for i in brain.astream("Where do I live?", user_id="z")]
        return answer, items

    answer, items = asyncio.run(run())
    final = items[-1]
    assert isinstance(final, Answer)
    assert answer.stored_memory_id in [h.memory.uid for h in final.memories]


def test_memory_budget_limits_injection(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "h", memory={"token_budget": 50, "top_k": 10})
    brain = Brain.from_settings(settings, model=FakeModel(), embedder=FakeEmbedder())
    for i in range(5):
        brain.memory.add("", f"fact number {i} about the blue house on the hill")
    answer = brain.ask("tell me about the blue house", memory=True)
    assert 1 <= len(answer.memories) < 5


def test_feedback_reaches_memories_once(brain: Brain) -> None:
    first = brain.ask("Remember that my favourite colour is teal.", user_id="f")
    second = brain.ask("What is my favourite colour?", user_id="f")
    assert first.stored_memory_id in [h.memory.uid for h in second.memories]
    before = brain.memory.get(first.stored_memory_id)
    assert before is not None
    result = brain.feedback(second.trace_id, 1.0, "spot on")
    assert result["memories_reinforced"] >= 1
    after = brain.memory.get(first.stored_memory_id)
    assert after is not None and after.salience > before.salience
    row = brain.ledger.get(second.trace_id)
    assert row is not None and row["quality"] == 1.0 and row["feedback_comment"] == "spot on"
    with pytest.raises(InvalidInput):
        brain.feedback(second.trace_id, 0.0)
    bad = brain.ask("What is my favourite colour?", user_id="f")
    brain.feedback(bad.trace_id, 0.0)
    lowered = brain.memory.get(first.stored_memory_id)
    assert lowered is not None and lowered.salience < after.salience
    with pytest.raises(InvalidInput):
        brain.feedback(bad.trace_id, 1.5)


def test_feedback_thumbs_correction_and_label_become_signals(brain: Brain) -> None:
    from cerebra.improve.signals import SignalStore, training_examples

    answer = brain.ask("Date: 8 May, 2023\nISO date:", raw=True, memory=False)
    brain.feedback(answer.trace_id, thumbs=False, correction=" 2023-05-08",
                   label="date-iso")
    found = {s.kind: s for s in SignalStore(brain.engine).list(RequestContext())}
    assert set(found) == {"label", "thumbs", "correction"}
    assert found["thumbs"].value == 0.0 and found["correction"].text == " 2023-05-08"
    assert {s.task for s in found.values()} == {"date-iso"}  # the label names the task
    sft, pairs = training_examples(brain.engine, RequestContext(), task="date-iso")
    assert [(r.prompt, r.completion) for r in sft] == [
        ("Date: 8 May, 2023\nISO date:", " 2023-05-08")]
    assert [(p.chosen, p.rejected) for p in pairs] == [(" 2023-05-08", answer.answer)]
    row = brain.ledger.get(answer.trace_id)
    assert row is not None and row["quality"] == 0.0  # thumbs down is a 0 rating


def test_feedback_unknown_trace(brain: Brain) -> None:
    from cerebra.errors import NotFound

    with pytest.raises(NotFound):
        brain.feedback("nope", 0.5)

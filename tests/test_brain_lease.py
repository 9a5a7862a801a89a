"""Brain holds the model it leased for the whole request, streams included: a hot swap in
the middle of an answer closes the old model only after the answer is complete (and a
request that fails, or a stream that is abandoned, returns its lease). The routing result
reaches the Answer from the generation / final chunk, sync and async."""

from __future__ import annotations

import asyncio

import pytest

from cerebra.brain import Answer, Brain
from cerebra.config import get_settings
from cerebra.errors import InvalidInput
from cerebra.routing import RoutePolicy, Router
from cerebra.testing import FakeEmbedder, FakeModel


class Closable(FakeModel):
    def __init__(self, reply: str, name: str = "m") -> None:
        super().__init__(reply, name=name)
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


@pytest.fixture
def brain(monkeypatch: pytest.MonkeyPatch) -> Brain:
    monkeypatch.setenv("CEREBRA_EMBEDDED_MODEL", "false")
    monkeypatch.setenv("CEREBRA_EMBEDDER", "fake")
    get_settings.cache_clear()
    made = Brain.from_settings(get_settings(), embedder=FakeEmbedder())
    made.models.add(Closable("old model answers here", name="m"), default=True)
    return made


def _swap(brain: Brain) -> Closable:
    old = brain.models.get("m")
    assert isinstance(old, Closable)
    brain.models.replace("m", Closable("new model answers", name="m"), close=True)
    return old


def test_a_swap_mid_stream_closes_the_old_model_after_the_answer(brain: Brain) -> None:
    stream = brain.stream("hello", memory=False)
    first = next(stream)
    assert isinstance(first, str) and brain.models.status()[0].in_flight == 1  # leased
    old = _swap(brain)
    assert old.closed == 0  # the answer in progress still holds it
    rest = list(stream)
    answer = rest[-1]
    assert isinstance(answer, Answer) and (first + "".join(rest[:-1])).strip() == (
        "old model answers here")
    assert old.closed == 1 and answer.routing is None
    assert brain.ask("hello", memory=False).answer == "new model answers"


def test_async_stream_and_failures_return_their_lease(brain: Brain) -> None:
    async def run() -> list[object]:
        items = []
        async for item in brain.astream("hello", memory=False):
            items.append(item)
            if len(items) == 1:
                old = _swap(brain)
                assert old.closed == 0
        assert old.closed == 1
        return items

    items = asyncio.run(run())
    assert isinstance(items[-1], Answer) and items[-1].answer.strip() == "old model answers here"
    current = brain.models.get("m")
    with pytest.raises(InvalidInput):  # refused before the model is leased
        brain.ask("x" * 10_000_000, memory=False)
    half = brain.stream("hello", memory=False)
    next(half)
    half.close()  # the client went away
    assert brain.models.status()[0].in_flight == 0
    brain.models.replace("m", Closable("third"), close=True)
    assert isinstance(current, Closable) and current.closed == 1


def test_routing_reaches_the_answer_as_data(brain: Brain) -> None:
    router = Router([FakeModel("alpha here", name="a"), FakeModel("beta here", name="b")],
                    policy=RoutePolicy("fixed", {"arm": "b"}), name="auto")
    brain.models.add(router, default=True)
    answers = [brain.ask("hello", memory=False)]
    answers.append(asyncio.run(brain.aask("hello", memory=False)))
    answers.append([x for x in brain.stream("hello", memory=False)][-1])  # type: ignore[arg-type]

    async def astream() -> object:
        return [x async for x in brain.astream("hello", memory=False)][-1]

    answers.append(asyncio.run(astream()))  # type: ignore[arg-type]
    for answer in answers:
        assert isinstance(answer, Answer) and answer.routing is not None
        assert answer.model == "b" and answer.routing["served_by"] == "b"
        assert answer.routing["strategy"] == "fixed" and answer.routing["chosen"] == "b"
        decision = router.get_decision(answer.routing["decision_id"])
        assert decision is not None and decision.served_by == "b"
        assert answer.routing["attempts"] == [a.to_dict() for a in decision.attempts]
    assert len({a.routing["decision_id"] for a in answers if a.routing}) == 4

"""Guards (refuse, modify, annotate; on streamed output) and sinks on the Brain's path."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cerebra.brain import Brain
from cerebra.db.schema import interactions, memories
from cerebra.exchange import Answer, Query
from cerebra.guards import BaseGuard, Guard, Refused
from cerebra.server.app import create_app
from cerebra.sinks import Interaction, Sink
from cerebra.testing import FakeModel


def _rows(brain: Brain, table: object) -> int:
    brain.ledger.flush()
    with brain.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


class NoSecrets(BaseGuard):
    name = "no-secrets"

    def before(self, query: Query) -> Query:
        if "password" in query.prompt.lower():
            raise Refused("prompts may not contain passwords", guard=self.name, field="prompt")
        return query


class Redact(BaseGuard):
    name = "redact"

    def before(self, query: Query) -> Query:
        from dataclasses import replace

        if "4111" in query.prompt:
            query = replace(query, prompt=query.prompt.replace("4111", "[card]"))
            query = self.annotate(query, "card number redacted", count=1)
        return query


class StopWord(BaseGuard):
    name = "stop-word"

    def __init__(self, word: str) -> None:
        self.word = word
        self.seen: list[tuple[str, bool]] = []

    def on_output(self, query: Query, text: str, final: bool) -> None:
        self.seen.append((text, final))
        if self.word in text:
            raise Refused(f"output contains {self.word!r}", guard=self.name)


class Recorder:
    name = "recorder"

    def __init__(self, fail: bool = False) -> None:
        self.got: list[Interaction] = []
        self.fail = fail
        self.closed = False

    def receive(self, interaction: Interaction) -> None:
        self.got.append(interaction)
        if self.fail:
            raise RuntimeError("sink down")

    def close(self) -> None:
        self.closed = True


def test_protocols_are_met() -> None:
    assert isinstance(NoSecrets(), Guard)
    assert isinstance(Recorder(), Sink)


def test_a_refusing_guard_stops_everything(brain: Brain, model: FakeModel) -> None:
    brain.guards.append(NoSecrets())
    with pytest.raises(Refused) as info:
        brain.ask("my password is hunter2")
    assert info.value.guard == "no-secrets" and info.value.status_code == 403
    assert model.calls == []  # the model never ran
    assert _rows(brain, interactions) == 0 and _rows(brain, memories) == 0


def test_guards_modify_and_annotate_in_order(brain: Brain, model: FakeModel) -> None:
    recorder = Recorder()
    brain.guards.extend([Redact(), NoSecrets()])
    brain.sinks.append(recorder)
    answer = brain.ask("charge card 4111 please")
    assert "[card]" in model.prompts[-1] and "4111" not in model.prompts[-1]
    assert [a.source for a in answer.annotations] == ["redact"]
    assert answer.annotations[0].data == {"count": 1}
    (seen,) = recorder.got
    assert seen.query.annotations == answer.annotations
    assert seen.record.prompt == "charge card [card] please"  # what was asked is what's kept


def test_output_guard_stops_a_stream_midway(model: FakeModel, brain: Brain) -> None:
    model._reply = "one two secret three four"
    guard = StopWord("secret")
    brain.guards.append(guard)
    pieces: list[str] = []
    with pytest.raises(Refused, match="secret"):
        for item in brain.stream("tell me"):
            assert not isinstance(item, Answer)
            pieces.append(item)
    assert "".join(pieces) == "one two "  # the offending piece was never yielded
    assert guard.seen[-1] == ("one two secret ", False)
    assert _rows(brain, interactions) == 0 and _rows(brain, memories) == 0


def test_output_guard_sees_a_whole_answer_once(brain: Brain) -> None:
    guard = StopWord("never")
    brain.guards.append(guard)
    answer = brain.ask("hello")
    assert guard.seen == [(answer.answer, True)]


def test_sinks_get_every_interaction_after_the_ledger(brain: Brain) -> None:
    first, second = Recorder(fail=True), Recorder()
    brain.sinks.extend([first, second])
    answers = [brain.ask("one"), brain.ask("two")]
    assert brain.sinks[0].name == "ledger"
    # a failing sink neither fails the answer nor starves the sinks after it
    assert [i.answer.trace_id for i in second.got] == [a.trace_id for a in answers]
    assert len(first.got) == 2
    assert _rows(brain, interactions) == 2
    brain.close()
    assert first.closed and second.closed


def test_refusal_over_http_is_a_403_naming_the_guard(brain: Brain) -> None:
    brain.guards.append(NoSecrets())
    with TestClient(create_app(brain.settings, brain=brain)) as client:
        resp = client.post("/api/llm/query", json={"prompt": "the password is x"})
        assert resp.status_code == 403
        error = resp.json()["error"]
        assert error["type"] == "refused" and error["guard"] == "no-secrets"
        assert error["field"] == "prompt"


"""Followups: what Brain leaves for after the answer is sent (settling, the sinks marked
`follows_answer`, the trace's end), and the response that runs it once its body is out."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cerebra.brain import Brain
from cerebra.db.schema import interactions
from cerebra.exchange import Answer, Query
from cerebra.followups import Followups
from cerebra.guards import BaseGuard, Refused
from cerebra.server.app import create_app
from cerebra.server.direct_chat import DirectChatRoute
from cerebra.server.followed import FollowedResponse
from cerebra.sinks import Interaction


class SettleSpy(BaseGuard):
    name = "settle-spy"

    def __init__(self) -> None:
        self.settled: list[Answer | None] = []

    def settle(self, query: Query, answer: Answer | None) -> None:
        self.settled.append(answer)


class RefuseOutput(BaseGuard):
    name = "refuse-output"

    def on_output(self, query: Query, text: str, final: bool) -> None:
        raise Refused("no output today", guard=self.name)


class Recorder:
    name = "recorder"

    def __init__(self) -> None:
        self.got: list[Interaction] = []

    def receive(self, interaction: Interaction) -> None:
        self.got.append(interaction)

    def close(self) -> None:
        return None


class FollowingRecorder(Recorder):
    name = "following"
    follows_answer = True


def _rows(brain: Brain) -> int:
    brain.ledger.flush()
    with brain.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(interactions)).scalar_one())


def test_each_call_runs_once_in_order_and_a_failure_stops_none() -> None:
    calls: list[str] = []
    followups = Followups()

    def fail() -> None:
        calls.append("fail")
        raise RuntimeError("boom")

    followups.add(calls.append, "first")
    followups.add(fail)
    followups.add(calls.append, "last")
    assert len(followups) == 3 and calls == []
    followups.run()
    followups.run()  # nothing twice
    assert calls == ["first", "fail", "last"]
    assert len(followups) == 0


def test_arun_leaves_settling_and_following_sinks_for_after_the_answer(brain: Brain) -> None:
    spy, now, later = SettleSpy(), Recorder(), FollowingRecorder()
    brain.guards.append(spy)
    brain.sinks.extend([now, later])
    followups = Followups()
    answer = asyncio.run(brain.arun(Query(prompt="hello"), followups=followups))
    # before the caller is answered: the sinks not marked follows_answer (the audit event)
    assert [i.answer.trace_id for i in now.got] == [answer.trace_id]
    assert later.got == [] and spy.settled == [] and _rows(brain) == 0
    followups.run()
    assert [i.answer.trace_id for i in later.got] == [answer.trace_id]
    assert spy.settled == [answer]
    assert _rows(brain) == 1  # the ledger's sink follows the answer too
    # one record, built once, for every sink that reads it
    assert later.got[0].record is later.got[0].record
    assert later.got[0].record.trace_id == answer.trace_id


def test_without_followups_everything_is_done_before_arun_returns(brain: Brain) -> None:
    spy, later = SettleSpy(), FollowingRecorder()
    brain.guards.append(spy)
    brain.sinks.append(later)
    answer = asyncio.run(brain.arun(Query(prompt="hello")))
    assert spy.settled == [answer] and len(later.got) == 1 and _rows(brain) == 1


def test_a_refused_request_settles_at_once_and_leaves_nothing(brain: Brain) -> None:
    spy, later = SettleSpy(), FollowingRecorder()
    brain.guards.extend([spy, RefuseOutput()])
    brain.sinks.append(later)
    followups = Followups()
    with pytest.raises(Refused):
        asyncio.run(brain.arun(Query(prompt="hello"), followups=followups))
    assert spy.settled == [None]  # released, not left for an answer that never comes
    assert len(followups) == 0 and later.got == []


def _asgi_call(response: FollowedResponse, *, fail_on: str | None = None
               ) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == fail_on:
            raise OSError("the client went away")
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
    asyncio.run(response(scope, receive, send))
    return sent


def test_the_response_runs_its_followups_after_its_body_is_sent() -> None:
    followups = Followups()
    response = FollowedResponse({"answer": "héllo", "n": [1, 2.5, None]}, followups)
    seen_when_run: list[list[str]] = []
    sent: list[dict[str, Any]] = []
    followups.add(lambda: seen_when_run.append([m["type"] for m in sent]))

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(response({"type": "http", "method": "POST", "path": "/", "headers": []},
                         receive, send))
    assert seen_when_run == [["http.response.start", "http.response.body"]]
    # the body is the compact UTF-8 JSON a JSONResponse sends
    assert sent[1]["body"] == json.dumps({"answer": "héllo", "n": [1, 2.5, None]},
                                         ensure_ascii=False,
                                         separators=(",", ":")).encode()


def test_the_followups_run_when_sending_fails() -> None:
    followups, ran = Followups(), []
    followups.add(ran.append, "settled")
    response = FollowedResponse({"ok": True}, followups)
    with pytest.raises(OSError):
        _asgi_call(response, fail_on="http.response.body")
    assert ran == ["settled"]


def test_what_orjson_refuses_is_encoded_by_the_standard_library() -> None:
    response = FollowedResponse({"big": 2**70}, Followups())
    assert json.loads(response.body) == {"big": 2**70}


@pytest.mark.parametrize("path", ["direct", "route"])
def test_over_http_the_client_is_answered_and_the_request_settled(
    brain: Brain, path: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    spy = SettleSpy()
    brain.guards.append(spy)
    if path == "route":  # the direct path passes every request on to the app's route
        async def pass_on(*args: object) -> bool:
            return False

        monkeypatch.setattr(DirectChatRoute, "_answer", pass_on)
    with TestClient(create_app(brain.settings, brain=brain)) as client:
        body = {"model": "fake", "messages": [{"role": "user", "content": "hi"}]}
        resp = client.post("/v1/chat/completions", json=body)
        assert resp.status_code == 200, resp.text
        assert resp.json()["choices"][0]["message"]["content"] == "Teal, I remember."
        assert client.app.state.direct_chat.answered == (path == "direct")  # type: ignore[attr-defined]
    assert len(spy.settled) == 1 and spy.settled[0] is not None
    assert _rows(brain) == 1

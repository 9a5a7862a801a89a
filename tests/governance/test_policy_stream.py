"""Streaming output is checked before it is sent: a denied continuation is cut and never
reaches the client, whose stream ends with an error event naming the rule; a PII match
spanning pieces is redacted before any of it goes out (the policy guard's hold-back)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cerebra.brain import Brain
from cerebra.config import Settings
from cerebra.exchange import Answer, Query
from cerebra.guards import BaseGuard, OutputFilter, Refused
from cerebra.server.app import create_app
from cerebra.testing import FakeModel

RULES = """\
denied_patterns:
  - id: no-codes
    pattern: "(?i)launch codes?"
pii:
  phone: redact
"""
INTRO = ("Here is a long and perfectly harmless introduction that goes on for quite a "
         "while before it finally says ")
DENIED = INTRO + "the launch codes are 1234 and then more text follows after it."
PHONE = INTRO + "call +44 20 7946 0958 to book, and that is all there is to it, thank you."


@pytest.fixture
def brain_for(tmp_path: Path) -> Iterator[Any]:
    brains: list[Brain] = []

    def make(reply: str) -> Brain:
        path = tmp_path / "c.yaml"
        path.write_text(RULES)
        settings = Settings(home=tmp_path / "home", model={"fake": True},
                            memory={"embedder": "fake", "enabled": False},
                            health={"interval_s": 0}, policy={"constitution": path})
        brain = Brain.from_settings(settings, model=FakeModel(reply, name="fake-model"))
        brains.append(brain)
        return brain

    yield make
    for b in brains:
        b.close()


def events(body: str) -> list[tuple[str, Any]]:
    """(event name, data) per SSE event; the name is "message" when none is given."""
    out = []
    for block in body.split("\n\n"):
        if not block.strip():
            continue
        name, data = "message", ""
        for line in block.splitlines():
            if line.startswith("event: "):
                name = line[len("event: "):]
            elif line.startswith("data: "):
                data += line[len("data: "):]
        out.append((name, data if data == "[DONE]" else json.loads(data)))
    return out


def chat_text(evs: list[tuple[str, Any]]) -> str:
    return "".join(d["choices"][0]["delta"].get("content") or "" for n, d in evs
                   if n == "message" and d != "[DONE]" and d.get("choices"))


def test_a_denied_continuation_never_reaches_the_chat_client(brain_for: Any) -> None:
    brain = brain_for(DENIED)
    with TestClient(create_app(brain.settings, brain=brain)) as client:
        r = client.post("/v1/chat/completions", json={
            "model": "fake-model", "stream": True,
            "messages": [{"role": "user", "content": "tell me a story"}]})
    assert r.status_code == 200
    evs = events(r.text)
    sent = chat_text(evs)
    assert sent and INTRO.startswith(sent)  # the harmless part went out, as it streamed
    assert "launch" not in r.text and "1234" not in r.text  # not in any event, error included
    name, data = evs[-1]
    assert name == "error"
    assert data["error"]["type"] == "policy_denied"
    assert data["error"]["rule"] == "pattern:no-codes"
    assert "[DONE]" not in r.text


def test_a_denied_continuation_never_reaches_the_query_api_client(brain_for: Any) -> None:
    brain = brain_for(DENIED)
    with TestClient(create_app(brain.settings, brain=brain)) as client:
        r = client.post("/api/llm/query", json={"prompt": "tell me", "stream": True})
    evs = events(r.text)
    sent = "".join(d["text"] for n, d in evs if n == "message")
    assert sent and INTRO.startswith(sent) and "launch" not in r.text
    assert evs[-1][0] == "error" and evs[-1][1]["error"]["rule"] == "pattern:no-codes"
    assert not any(n == "answer" for n, _ in evs)


def test_a_phone_number_spanning_pieces_is_redacted_before_it_is_sent(brain_for: Any) -> None:
    brain = brain_for(PHONE)
    with TestClient(create_app(brain.settings, brain=brain)) as client:
        r = client.post("/v1/chat/completions", json={
            "model": "fake-model", "stream": True,
            "messages": [{"role": "user", "content": "who do I call?"}]})
    evs = events(r.text)
    assert chat_text(evs) == PHONE.replace("+44 20 7946 0958", "[PHONE REDACTED]")
    assert "7946" not in r.text and "+44" not in r.text
    assert evs[-1] == ("message", "[DONE]")


def test_brain_stream_yields_nothing_after_the_refusal(brain_for: Any) -> None:
    brain = brain_for(DENIED)
    model = brain.models.get("fake-model")
    sent: list[str] = []
    with pytest.raises(Refused):
        for piece in brain.stream("go"):
            assert isinstance(piece, str)
            sent.append(piece)
    assert sent and "launch" not in "".join(sent)
    assert model is not None


class _StopAt(BaseGuard):
    """Refuses once the text holds `word`; no hold-back."""

    name = "stop-at"

    def __init__(self, word: str) -> None:
        self.word = word

    def on_output(self, query: Query, text: str, final: bool) -> str | None:
        if self.word in text:
            raise Refused(f"{self.word!r} said", guard=self.name)
        return None


class _Rewrites(BaseGuard):
    """Rewrites the first word once the third arrives (after the first was sent)."""

    name = "rewrites"

    def on_output(self, query: Query, text: str, final: bool) -> str | None:
        return "X" + text[1:] if text.count(" ") >= 2 else None


def test_the_refused_piece_itself_is_never_yielded() -> None:
    out = OutputFilter([_StopAt("three")], Query("q"))
    assert out.feed("one ") == "one "
    assert out.feed("two ") == "two "
    with pytest.raises(Refused):
        out.feed("three ")
    assert out.sent == "one two "


def test_a_rewrite_of_text_already_sent_stops_the_answer() -> None:
    out = OutputFilter([_Rewrites()], Query("q"))
    assert out.feed("a ") == "a "
    with pytest.raises(Refused, match="rewritten after part of it was sent"):
        out.feed("b ")


def test_no_guards_pass_pieces_through() -> None:
    out = OutputFilter([], Query("q"))
    assert [out.feed(p) for p in ("a", "b")] == ["a", "b"]
    assert out.finish() == ("", "ab")


def test_the_final_answer_carries_the_redacted_text(brain_for: Any) -> None:
    items = list(brain_for(PHONE).stream("go"))
    answer = items[-1]
    assert isinstance(answer, Answer)
    assert answer.answer == "".join(p for p in items[:-1] if isinstance(p, str))
    assert "[PHONE REDACTED]" in answer.answer

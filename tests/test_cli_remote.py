"""`cerebra ask` and `cerebra chat` over a running server, the in-process fallback, Ctrl-C
in chat, and the per-user data folder."""

from __future__ import annotations

import builtins
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cerebra.brain import Brain
from cerebra.cli import remote
from cerebra.cli.main import _chat_turn, main
from cerebra.config import Settings, get_settings
from cerebra.errors import CerebraError
from cerebra.models.base import Message
from cerebra.server.app import create_app
from cerebra.testing import FakeModel
from tests.helpers import CLI, free_port, run_cli, running_server

FAKE = {"CEREBRA_FAKE_MODEL": "1", "CEREBRA_EMBEDDER": "fake"}


class Served:
    def __init__(self, url: str, model: FakeModel) -> None:
        self.url = url
        self.model = model
        self.port = url.rsplit(":", 1)[1]
        # The CLI finds this server through settings; a model it loaded itself would fail.
        self.env = {
            "CEREBRA_HOST": "127.0.0.1",
            "CEREBRA_PORT": self.port,
            "CEREBRA_EMBEDDER": "fake",
            "CEREBRA_MODEL_PATH": "/nonexistent/model.gguf",
        }


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    settings = Settings(home=tmp_path / "server", memory={"embedder": "fake"},
                        health={"interval_s": 0})
    model = FakeModel(name=settings.model.name)
    brain = Brain.from_settings(settings, model=model)
    try:
        with running_server(create_app(settings, brain=brain)) as url:
            yield Served(url, model)
    finally:
        brain.close()


def _shape(data: Any) -> Any:
    """Keys and value types, recursively: what must be the same on both paths."""
    if isinstance(data, dict):
        return {k: _shape(v) for k, v in sorted(data.items())}
    if isinstance(data, list):
        return [_shape(data[0])] if data else []
    return type(data).__name__ if data is not None else None


def test_ask_uses_the_running_server(served: Served) -> None:
    first = run_cli("ask", "Remember that my favourite colour is teal.", "--json", env=served.env)
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    assert data["via"] == "server" and data["server"] == served.url
    second = run_cli("ask", "What is my favourite colour?", "--json", env=served.env)
    recalled = json.loads(second.stdout)
    assert data["stored_memory_id"] in [m["id"] for m in recalled["memories"]]
    assert len(served.model.calls) == 2  # the server's model answered both

    # The same two questions in-process give the same shape of answer.
    local = run_cli("ask", "Remember that my favourite colour is teal.", "--local", env=FAKE)
    assert local.returncode == 0, local.stderr
    again = run_cli("ask", "What is my favourite colour?", "--json", "--local", env=FAKE)
    in_process = json.loads(again.stdout)
    assert in_process["via"] == "in-process" and in_process["server"] is None
    assert in_process["memories"]
    assert _shape({**in_process, "server": "url"}) == _shape({**recalled, "server": "url"})

    human = run_cli("ask", "Hello", env=served.env)
    assert human.returncode == 0, human.stderr
    assert "This is a fake answer." in human.stdout and f"server {served.url}" in human.stdout


def test_ask_without_a_server_loads_the_model_here() -> None:
    result = run_cli("ask", "Hello", "--json", env=FAKE)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["via"] == "in-process" and data["server"] is None
    assert data["answer"] == "This is a fake answer."


def test_server_errors_are_one_line_exit_2_like_in_process(served: Served) -> None:
    remote_err = run_cli("ask", "hi", "--model", "nope", env=served.env)
    local_err = run_cli("ask", "hi", "--model", "nope", "--local", env=FAKE)
    for result in (remote_err, local_err):
        assert result.returncode == 2, (result.stdout, result.stderr)
        assert result.stderr.startswith("error: unknown model 'nope'")
        assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
    assert remote_err.stderr == local_err.stderr
    blank = run_cli("ask", "   ", env=served.env)  # the Brain's own validation, via HTTP 422
    assert blank.returncode == 2 and blank.stderr.startswith("error:"), blank.stderr


@pytest.mark.parametrize(
    "args", [("--server", "http://127.0.0.1:{port}"), ("--local", "--server", "http://x")]
)
def test_server_option_misuse(args: tuple[str, ...]) -> None:
    args = tuple(a.format(port=get_settings().server.port) for a in args)  # a port nobody serves
    result = run_cli("ask", "hi", *args, env=FAKE)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("error:") and result.stderr.strip().count("\n") == 0


def test_ask_with_explicit_server(served: Served) -> None:
    result = run_cli("ask", "hi", "--json", "--server", served.url + "/", env=FAKE)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["server"] == served.url


def test_chat_streams_from_the_server_with_history(served: Served) -> None:
    proc = subprocess.run(
        [*CLI, "chat"],
        input="hello\nand again\n/exit\n",
        capture_output=True,
        text=True,
        env={**os.environ, **served.env},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"server {served.url}" in proc.stdout
    assert proc.stdout.count("This is a fake answer.") == 2
    last = served.model.calls[-1].messages
    said = [(m.role, m.content) for m in last]
    assert ("assistant", "This is a fake answer.") in said  # the first turn came along
    assert said[-1] == ("user", "and again")


def test_query_api_takes_history(served: Served) -> None:
    import httpx

    turns = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    ok = httpx.post(f"{served.url}/api/llm/query", json={"prompt": "Again", "history": turns})
    assert ok.status_code == 200, ok.text
    said = [(m.role, m.content) for m in served.model.calls[-1].messages]
    assert said[-3:] == [("user", "Hi"), ("assistant", "Hello!"), ("user", "Again")]
    bad = [{"role": "system", "content": "obey"}]
    refused = httpx.post(f"{served.url}/api/llm/query", json={"prompt": "x", "history": bad})
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "history[0].role"


# -- Ctrl-C in chat ------------------------------------------------------------------------


def _typed(monkeypatch: pytest.MonkeyPatch, *lines: str) -> None:
    """input() answers these lines, then Ctrl-C at the prompt."""
    queue = list(lines)

    def fake_input(prompt: str = "") -> str:
        sys.stdout.write(prompt)
        if not queue:
            raise KeyboardInterrupt
        return queue.pop(0)

    monkeypatch.setattr(builtins, "input", fake_input)


def test_ctrl_c_stops_the_answer_not_the_chat_in_process(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key, value in FAKE.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    real_stream = Brain.stream
    histories: list[list[Message]] = []

    def interrupted_once(self: Brain, prompt: str, **options: Any) -> Iterator[Any]:
        histories.append(list(options.get("history", ())))
        events = real_stream(self, prompt, **options)
        if len(histories) == 1:
            yield next(events)
            events.close()
            raise KeyboardInterrupt  # the user's Ctrl-C while the answer streams
        yield from events

    monkeypatch.setattr(Brain, "stream", interrupted_once)
    _typed(monkeypatch, "tell me a long story", "hello")
    main(["chat", "--local"])  # returns: Ctrl-C at the prompt leaves cleanly
    shown = capsys.readouterr().out
    cancelled = shown.index("answer cancelled")
    assert shown.index("This is a fake answer.", cancelled) > cancelled
    assert shown.rstrip().endswith("you>")
    assert histories[1] == []  # the cancelled exchange is not part of the conversation


def test_ctrl_c_stops_the_answer_not_the_chat_over_the_server(
    served: Served, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key, value in served.env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    real_events = remote._sse_events
    streams: list[str] = []

    def interrupted_once(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
        streams.append("started")
        for event in real_events(lines):
            yield event
            if len(streams) == 1 and event[0] == "message":
                raise KeyboardInterrupt  # Ctrl-C after the first piece

    monkeypatch.setattr(remote, "_sse_events", interrupted_once)
    _typed(monkeypatch, "tell me a long story", "hello", "/exit")
    main(["chat"])
    shown = capsys.readouterr().out
    assert f"server {served.url}" in shown
    cancelled = shown.index("answer cancelled")
    assert shown.index("This is a fake answer.", cancelled) > cancelled
    assert len(streams) == 2


def test_chat_turn_closes_the_stream_when_ctrl_c_hits_the_printing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    closed: list[bool] = []

    class Answerer:
        via, url = "in-process", None

        def stream(self, prompt: str, **options: Any) -> Iterator[Any]:
            try:
                yield "one "
                yield "two "
                yield {"answer": "one two "}
            finally:
                closed.append(True)

    class CtrlCOnTwo(io.StringIO):
        def write(self, text: str) -> int:
            if text == "two ":
                raise KeyboardInterrupt
            return super().write(text)

    screen = CtrlCOnTwo()
    monkeypatch.setattr(sys, "stdout", screen)
    assert _chat_turn(Answerer(), "hi", [], "", "", "", None) is None
    assert closed == [True]
    assert "one" in screen.getvalue() and "answer cancelled" in screen.getvalue()


def test_stream_error_event_becomes_a_cerebra_error() -> None:
    lines = iter(
        ['data: {"text": "a"}', "", "event: error", 'data: {"error": {"message": "boom"}}', ""]
    )
    events = list(remote._sse_events(lines))
    assert events == [("message", {"text": "a"}), ("error", {"error": {"message": "boom"}})]
    err = remote._error_from_body(events[1][1], "fallback")
    assert isinstance(err, CerebraError) and err.message == "boom"


# -- the data directory ----------------------------------------------------------------------


def test_default_home_is_the_per_user_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import platformdirs

    from cerebra.doctor import _check_home

    monkeypatch.delenv("CEREBRA_HOME")
    expected = Path(platformdirs.user_data_dir("cerebra", appauthor=False))
    assert tmp_path in expected.parents  # conftest keeps tests out of the real one
    assert Settings().home == expected
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert Settings().home == expected  # whatever the current folder
    (elsewhere / ".cerebra").mkdir()
    (elsewhere / ".cerebra" / "cerebra.db").write_bytes(b"")
    check = _check_home(Settings())
    assert check.ok and str(expected) in check.detail and "per-user" in check.detail
    assert "older data directory" in check.detail
    monkeypatch.setenv("CEREBRA_HOME", str(tmp_path / "mine"))
    assert Settings().home == tmp_path / "mine"
    assert "from CEREBRA_HOME" in _check_home(Settings()).detail


@pytest.mark.timeout(180)
def test_serve_prints_the_data_directory(tmp_path: Path) -> None:
    home = tmp_path / "served-home"
    proc = subprocess.Popen(
        [*CLI, "serve", "--port", str(free_port())],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **FAKE, "CEREBRA_HOME": str(home), "CEREBRA_HEALTH_INTERVAL_S": "0"},
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("data directory:"):
                break
        assert any(line.startswith("Cerebra serving on") for line in lines), lines
        assert lines[-1].strip() == f"data directory: {home.resolve()}"
    finally:
        proc.terminate()
        proc.wait(timeout=60)

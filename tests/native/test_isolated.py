"""cerebra.isolated: work in a child process fails, never dies — a crash in the child is a
ChildCrashed naming the signal and the test; exceptions and results come back as themselves."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from cerebra.errors import PromptTooLong
from cerebra.isolated import (
    ChildBackend,
    ChildCrashed,
    ChildError,
    ChildObject,
    ChildTimeout,
    run_in_child,
)
from cerebra.models.base import Generation, GenerationRequest, ModelBackend
from cerebra.testing import FakeModel
from tests.native.child_targets import (
    Napper,
    die_of,
    exit_with,
    hang,
    later,
    letters,
    numbers,
    pid_and_cwd,
    too_long,
    unknown_model,
)

REQ = GenerationRequest(prompt="Name a colour.", max_tokens=8, temperature=0.0)


class Crashy(FakeModel):
    """A FakeModel that kills its own process on the prompt 'crash'."""

    def generate(self, request: GenerationRequest) -> Generation:
        if request.prompt == "crash":
            die_of(signal.SIGILL)
        return super().generate(request)


def test_sigill_in_the_child_fails_with_the_signal_and_the_test_named() -> None:
    with pytest.raises(ChildCrashed, match=r"died of SIGILL \(signal 4\)") as crashed:
        run_in_child(die_of, signal.SIGILL)
    assert crashed.value.crash_signal == signal.SIGILL and crashed.value.exitcode == -4
    assert "test_isolated.py::test_sigill_in_the_child_fails" in str(crashed.value)
    assert "tests.native.child_targets.die_of" in str(crashed.value)
    with pytest.raises(ChildCrashed, match=r"died of SIGSEGV \(signal 11\)"):
        run_in_child(die_of, signal.SIGSEGV)
    with pytest.raises(ChildCrashed, match="exited with code 3") as exited:
        run_in_child(exit_with, 3)
    assert exited.value.crash_signal is None


def test_result_runs_in_another_process_with_the_tests_cwd_and_environment(
        tmp_path: Path) -> None:
    pid, cwd, home, extra = run_in_child(pid_and_cwd, "x")
    assert pid != os.getpid() and cwd == os.getcwd() == str(tmp_path)
    assert home == os.environ["CEREBRA_HOME"] and extra == "x"


def test_exceptions_come_back_as_themselves_or_named() -> None:
    with pytest.raises(PromptTooLong, match="9000 tokens") as err:
        run_in_child(too_long)
    assert err.value.field == "prompt" and err.value.extra == {"prompt_tokens": 9000}
    assert "in too_long" in str(err.value.__cause__)  # the child's traceback, as the cause
    with pytest.raises(ChildError, match=r"cerebra\.errors\.UnknownModel: unknown model 'ghost'"):
        run_in_child(unknown_model)


def test_iterators_and_coroutines_are_consumed_in_the_child() -> None:
    assert run_in_child(numbers, 4) == [0, 1, 2, 3]
    assert run_in_child(later, "done") == "done"
    assert run_in_child(letters, "abc") == ["a", "b", "c"]


def test_a_child_that_does_not_answer_is_killed() -> None:
    with pytest.raises(ChildTimeout, match="did not answer within 1 s"):
        run_in_child(hang, timeout=1)


def test_child_backend_is_a_model_backend_and_agrees_with_the_model() -> None:
    fake = FakeModel("Blue is a colour.", name="fake")
    backend = ChildBackend(FakeModel, "Blue is a colour.", name="fake")
    try:
        assert isinstance(backend, ModelBackend)
        assert backend.name == "fake" and backend.capabilities == fake.capabilities
        assert backend.count_tokens("one two") == fake.count_tokens("one two")
        assert backend.generate(REQ).text == fake.generate(REQ).text
        assert [c.text for c in backend.stream(REQ)] == [c.text for c in fake.stream(REQ)]

        async def both() -> tuple[str, list[str]]:
            gen = await backend.agenerate(REQ)
            return gen.text, [c.text async for c in backend.astream(REQ)]

        text, pieces = asyncio.run(both())
        assert text == "Blue is a colour." and "".join(pieces).strip() == text
        assert backend.probe().ok
        with pytest.raises(PromptTooLong):
            backend.generate(GenerationRequest(prompt="word " * 5000))
    finally:
        backend.close()


def test_a_crash_fails_one_call_and_the_next_call_gets_a_new_child() -> None:
    child = ChildObject(Crashy, "still here", name="crashy")
    try:
        first = child.pid
        with pytest.raises(ChildCrashed, match=r"Crashy\.generate.*died of SIGILL"):
            child.call("generate", GenerationRequest(prompt="crash"))
        assert child.call("generate", REQ).text == "still here"
        assert child.starts == 2 and child.pid != first
    finally:
        child.close()
    assert child.pid is None


def test_a_call_that_does_not_answer_is_killed_and_the_next_one_gets_a_new_child() -> None:
    child = ChildObject(Napper, timeout=1)
    try:
        with pytest.raises(ChildTimeout, match=r"Napper\.nap\) did not answer within 1 s"):
            child.call("nap")
        assert child.call("hello").startswith("hello from") and child.starts == 2
    finally:
        child.close()


def test_a_factory_that_crashes_fails_the_construction() -> None:
    with pytest.raises(ChildCrashed, match=r"building it\) died of SIGABRT"):
        ChildObject(die_of, signal.SIGABRT)


def test_the_requests_cancellation_reaches_the_child_as_it_stands() -> None:
    from cerebra.models.cancellation import Cancellation

    backend = ChildBackend(FakeModel, "one two three", name="fake")
    try:
        tripped = Cancellation()
        tripped.cancel()
        out = backend.generate(REQ.with_(cancellation=tripped))
        assert out.finish_reason == "cancelled" and out.text == ""
        live = Cancellation(timeout_s=600)
        assert backend.generate(REQ.with_(cancellation=live)).text == "one two three"
    finally:
        backend.close()

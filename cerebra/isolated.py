"""Run work in a child process, so that a crash in native code fails one call, not the caller.

A llama.cpp build that executes an instruction the CPU (or the kernel) refuses dies of
SIGILL, and takes the whole process with it: a test run stops at the first such test, a
server check never reports. Work run through this module happens in a fresh interpreter
started with subprocess (no fork, which can hang once OpenMP or llama.cpp threads exist; no
re-import of the caller's __main__, as multiprocessing's spawn does), talking to this
process over a socket pair; a child's death by signal becomes a `ChildCrashed` error naming
the signal ("died of SIGILL (signal 4)") and, under pytest, the test. The child has this
process's working directory, environment and import path.

- `run_in_child(fn, *args, **kwargs)`: one call in a new child; the result or the child's
  exception (with its traceback) comes back.
- `ChildObject(factory, *args, **kwargs)`: an object built and kept in a child, its methods
  called by name; after a crash the next call starts a new child.
- `ChildBackend(factory, *args, **kwargs)`: a ModelBackend over a ChildObject, e.g. a
  `LlamaCppBackend` loaded once and shared by many tests. Streams are collected in the child
  and replayed, so a failure mid-stream arrives as one error rather than after some chunks.

Functions, factories, arguments and results travel by pickle: functions and classes must be
importable by module and name (module-level, not lambdas or closures).
"""

from __future__ import annotations

import asyncio
import faulthandler
import inspect
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import AsyncIterator, Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from cerebra.models.base import (
    Capabilities,
    Generation,
    GenerationRequest,
    ProbeResult,
    StreamChunk,
)

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 600.0


class ChildCrashed(RuntimeError):
    """The child process died (a signal, or an exit) before it returned a result."""

    def __init__(self, message: str, *, exitcode: int | None) -> None:
        super().__init__(message)
        self.exitcode = exitcode

    @property
    def crash_signal(self) -> signal.Signals | None:
        """The signal that killed the child, if one did."""
        if self.exitcode is None or self.exitcode >= 0:
            return None
        try:
            return signal.Signals(-self.exitcode)
        except ValueError:
            return None


class ChildTimeout(ChildCrashed):
    """The child did not answer within the timeout; it was killed."""


class ChildError(RuntimeError):
    """An exception raised in the child that could not be sent back as itself."""


class _ChildTraceback(Exception):
    """Carries the child's formatted traceback as the cause of a re-raised exception."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return "\n" + self.text


def _describe(target: Any, method: str = "") -> str:
    name = f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', target)}"
    name += f".{method}" if method else ""
    test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0]
    return f"{test} ({name})" if test else name


def _exit_reason(exitcode: int | None) -> str:
    if exitcode is None:
        return "did not exit"
    if exitcode < 0:
        try:
            return f"died of {signal.Signals(-exitcode).name} (signal {-exitcode})"
        except ValueError:
            return f"died of signal {-exitcode}"
    return f"exited with code {exitcode} before it returned a result"


# -- in the child ------------------------------------------------------------------------


def _settle(value: Any) -> Any:
    """Iterators, coroutines and async iterators become the values they produce."""
    if inspect.isawaitable(value):
        return asyncio.run(_await(value))
    if isinstance(value, AsyncIterator):
        return asyncio.run(_collect(value))
    if isinstance(value, Iterator):
        return list(value)
    return value


async def _await(value: Any) -> Any:
    return await value


async def _collect(value: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in value]


def _error_payload(exc: BaseException) -> tuple[str, BaseException, str]:
    text = "".join(traceback.format_exception(exc))
    try:
        pickle.loads(pickle.dumps(exc))
        sendable: BaseException = exc
    except Exception:  # an exception whose constructor pickle cannot call again
        sendable = ChildError(f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}")
    return ("err", sendable, text)


def _send(conn: Connection, status: str, value: Any) -> None:
    try:
        conn.send((status, value, ""))
    except Exception as exc:  # an unpicklable result
        conn.send(_error_payload(exc))


def _leave() -> NoReturn:
    """Exit without interpreter teardown: no waiting on stray threads, no native destructors
    racing at exit (the parent already has what it asked for)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _child_main() -> NoReturn:
    """Entry point of a child: `python -c '…_child_main()' FD`, FD a socket to the parent."""
    faulthandler.enable()  # a fatal signal prints the Python stack, then kills as before
    conn = Connection(int(sys.argv[1]))
    try:
        sys.path[:] = conn.recv()  # plain strings: the parent's import path, before any
        mode, target, args, kwargs = pickle.loads(conn.recv_bytes())  # of its modules
        result = target(*args, **kwargs)
        if mode == "run":
            result = _settle(result)
    except BaseException as exc:
        conn.send(_error_payload(exc))
        _leave()
    if mode == "run":
        _send(conn, "ok", result)
        _leave()
    conn.send(("ok", None, ""))
    _serve(conn, result)


def _serve(conn: Connection, obj: Any) -> NoReturn:
    while True:
        try:
            kind, name, call_args, call_kwargs = conn.recv()
        except EOFError:
            _leave()
        try:
            if kind == "close":
                closer = getattr(obj, "close", None)
                result = closer() if callable(closer) else None
            elif kind == "get":
                result = getattr(obj, name)
            elif kind == "apply":
                result = _settle(name(obj, *call_args, **call_kwargs))
            else:
                result = _settle(getattr(obj, name)(*call_args, **call_kwargs))
        except BaseException as exc:
            conn.send(_error_payload(exc))
        else:
            _send(conn, "ok", result)
        if kind == "close":
            _leave()


# -- in the parent -----------------------------------------------------------------------

_ENTRY = "from cerebra.isolated import _child_main; _child_main()"
_ROOT = str(Path(__file__).resolve().parents[1])  # the folder holding the cerebra package


def _start(mode: str, target: Callable[..., Any], args: tuple[Any, ...],
           kwargs: dict[str, Any]) -> tuple[subprocess.Popen[bytes], Connection]:
    """A fresh interpreter (no fork: threads in this process cannot hang it) with `target`
    sent over a socket pair; cwd and environment are this process's."""
    payload = pickle.dumps((mode, target, args, kwargs))  # unpicklable input fails here
    ours, theirs = socket.socketpair()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, env.get("PYTHONPATH")) if p)
    with theirs:
        proc = subprocess.Popen([sys.executable, "-c", _ENTRY, str(theirs.fileno())],
                                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, env=env)
    conn = Connection(ours.detach())
    try:
        conn.send(list(sys.path))
        conn.send_bytes(payload)
    except OSError:
        pass  # the child is already gone: _answer says how
    return proc, conn


def _answer(conn: Connection, proc: subprocess.Popen[bytes], timeout: float,
            what: str) -> tuple[str, Any, str]:
    """The child's answer (status, value, traceback text); ChildCrashed/ChildTimeout when
    it has none."""
    if not conn.poll(timeout):
        proc.kill()
        proc.wait(30)
        raise ChildTimeout(f"child process for {what} did not answer within {timeout:g} s "
                           "and was killed", exitcode=proc.returncode)
    try:
        answer: tuple[str, Any, str] = conn.recv()
    except (EOFError, OSError):
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)
        raise ChildCrashed(f"child process for {what} {_exit_reason(proc.returncode)}",
                           exitcode=proc.returncode) from None
    return answer


def _unwrap(answer: tuple[str, Any, str]) -> Any:
    """The value of an answer, or the child's exception raised here."""
    status, value, text = answer
    if status == "ok":
        return value
    assert isinstance(value, BaseException)
    raise value from _ChildTraceback(text)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def run_in_child(fn: Callable[..., T], /, *args: Any, timeout: float = DEFAULT_TIMEOUT_S,
                 **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` in a fresh child process; its result, or its exception.

    Raises ChildCrashed when the child dies before answering (the message names the signal),
    ChildTimeout when it does not answer within `timeout` seconds (it is killed). An
    iterator, coroutine or async iterator returned by `fn` is consumed in the child.
    """
    proc, conn = _start("run", fn, args, kwargs)
    try:
        result: T = _unwrap(_answer(conn, proc, timeout, _describe(fn)))
        return result
    finally:
        conn.close()
        _stop(proc)


class ChildObject:
    """`factory(*args, **kwargs)` built and kept in a child process; methods called by name.

    Calls are serialised (one pipe). A crash fails the call in progress with ChildCrashed;
    the next call starts a new child and builds the object again.
    """

    def __init__(self, factory: Callable[..., Any], /, *args: Any,
                 timeout: float = DEFAULT_TIMEOUT_S, **kwargs: Any) -> None:
        self._factory, self._args, self._kwargs = factory, args, kwargs
        self.timeout = timeout
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self.starts = 0
        with self._lock:
            self._ensure()

    def _ensure(self) -> Connection:
        if self._conn is not None and self._proc is not None and self._proc.poll() is None:
            return self._conn
        self._discard()
        proc, conn = _start("serve", self._factory, self._args, self._kwargs)
        self.starts += 1
        self._proc, self._conn = proc, conn
        try:
            answer = _answer(conn, proc, self.timeout, f"{_describe(self._factory)} (building it)")
        except BaseException:
            self._discard()
            raise
        if answer[0] != "ok":
            self._discard()
            _unwrap(answer)
        return conn

    def _discard(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait(10)
        self._proc = self._conn = None

    def _request(self, kind: str, name: Any, args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> Any:
        label = name if isinstance(name, str) else getattr(name, "__qualname__", "apply")
        with self._lock:
            conn = self._ensure()
            assert self._proc is not None
            try:
                conn.send((kind, name, args, kwargs))
                answer = _answer(conn, self._proc, self.timeout, _describe(self._factory, label))
            except BaseException:  # a crash, or interrupted (e.g. a test timeout) mid-call:
                self._discard()  # the child's late answer must not meet the next call
                raise
        return _unwrap(answer)

    def call(self, method: str, /, *args: Any, **kwargs: Any) -> Any:
        """`obj.method(*args, **kwargs)` in the child (iterators and coroutines consumed)."""
        return self._request("call", method, args, kwargs)

    def get(self, attribute: str) -> Any:
        return self._request("get", attribute, (), {})

    def apply(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """`fn(obj, *args, **kwargs)` in the child; `fn` importable by module and name."""
        return self._request("apply", fn, args, kwargs)

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else int(self._proc.pid)

    def close(self) -> None:
        """Close the object in the child (if it has close()) and end the child."""
        with self._lock:
            if self._conn is not None and self._proc is not None and self._proc.poll() is None:
                try:
                    self._conn.send(("close", "close", (), {}))
                    _answer(self._conn, self._proc, self.timeout, "close")
                except (ChildCrashed, OSError):
                    pass
            self._discard()


def _call_with_deadline(obj: Any, method: str, request: GenerationRequest,
                        reason: str | None, remaining: float | None) -> Any:
    """In the child: `obj.method(request)` with a Cancellation like the caller's (its reason
    if it had tripped, else its deadline)."""
    from cerebra.models.cancellation import Cancellation

    token = Cancellation(timeout_s=remaining) if remaining else Cancellation()
    if reason is not None or remaining == 0:
        token.cancel(reason or "timeout")
    return getattr(obj, method)(request.with_(cancellation=token))


class ChildBackend:
    """A ModelBackend whose model is built by `factory(*args, **kwargs)` in a child process.

    A request's Cancellation reaches the child as it stands when the call starts (tripped,
    or its deadline); a cancel() during the call is not forwarded.
    """

    def __init__(self, factory: Callable[..., Any], /, *args: Any,
                 timeout: float = DEFAULT_TIMEOUT_S, **kwargs: Any) -> None:
        self.child = ChildObject(factory, *args, timeout=timeout, **kwargs)
        self.name: str = self.child.get("name")
        self._capabilities: Capabilities = self.child.get("capabilities")

    def _call(self, method: str, request: GenerationRequest) -> Any:
        token = getattr(request, "cancellation", None)
        if token is None:
            return self.child.call(method, request)
        return self.child.apply(_call_with_deadline, method, request.with_(cancellation=None),
                                token.reason, token.remaining())

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    def count_tokens(self, text: str) -> int:
        return int(self.child.call("count_tokens", text))

    def generate(self, request: GenerationRequest) -> Generation:
        result: Generation = self._call("generate", request)
        return result

    async def agenerate(self, request: GenerationRequest) -> Generation:
        result: Generation = await asyncio.to_thread(self._call, "agenerate", request)
        return result

    def stream(self, request: GenerationRequest) -> Iterator[StreamChunk]:
        chunks: list[StreamChunk] = self._call("stream", request)
        yield from chunks

    async def astream(self, request: GenerationRequest) -> AsyncIterator[StreamChunk]:
        chunks: list[StreamChunk] = await asyncio.to_thread(self._call, "astream", request)
        for chunk in chunks:
            yield chunk

    def probe(self) -> ProbeResult:
        result: ProbeResult = self.child.call("probe")
        return result

    def close(self) -> None:
        self.child.close()

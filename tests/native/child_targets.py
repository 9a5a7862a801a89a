"""Functions that tests run in child processes (cerebra.isolated). Module-level, so that a
child imports them by name, and in a module with light imports, so that a child starts fast."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Iterator

from cerebra.errors import PromptTooLong, UnknownModel


def die_of(signum: int) -> None:
    os.kill(os.getpid(), signum)


def pid_and_cwd(extra: str) -> tuple[int, str, str, str]:
    return os.getpid(), os.getcwd(), os.environ.get("CEREBRA_HOME", ""), extra


def too_long() -> None:
    raise PromptTooLong("prompt is 9000 tokens", field="prompt", prompt_tokens=9000)


def unknown_model() -> None:
    raise UnknownModel("ghost", ["a", "b"])  # its constructor cannot be called again by pickle


def numbers(n: int) -> Iterator[int]:
    yield from range(n)


async def later(value: str) -> str:
    await asyncio.sleep(0)
    return value


async def letters(text: str) -> AsyncIterator[str]:
    for char in text:
        yield char


def hang() -> None:
    signal.pause()


def exit_with(code: int) -> None:
    os._exit(code)


class Napper:
    """An object for ChildObject: `nap()` never returns, `hello()` does."""

    def nap(self) -> None:
        signal.pause()

    def hello(self) -> str:
        return f"hello from {os.getpid()}"

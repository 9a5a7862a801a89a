"""Guards: ordered checks that run before generation (and on streamed output) in Brain.

A guard may refuse a request (raise `Refused`, a 403 / CLI exit 2 with the guard's reason),
modify it (return a changed Query) or annotate it (return it with an Annotation added; the
annotations travel on the Answer and to the sinks). On output, a guard sees the text so far
as it streams and may stop it by raising `Refused`, or rewrite it by returning the new text
(redaction, an appended disclaimer). `OutputFilter` runs the output checks before anything
is sent: a stream's pieces are released only once the guards have seen them, and a guard
with `holdback` > 0 keeps that many trailing characters back until the text after them is
seen (so a match spanning pieces is rewritten before any of it goes out). Policy, rate
limits and budgets plug in here; Brain runs them in the order given.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from cerebra.errors import CerebraError
from cerebra.exchange import Annotation, Answer, Query
from cerebra.models.cancellation import CANCELLED, Cancellation

if TYPE_CHECKING:
    from cerebra.followups import Followups

log = logging.getLogger("cerebra.guards")


class Refused(CerebraError):
    """A guard refused the request (or stopped its output)."""

    status_code = 403
    code = "refused"

    def __init__(self, message: str, *, guard: str, field: str | None = None) -> None:
        super().__init__(message, field=field, guard=guard)
        self.guard = guard


@runtime_checkable
class Guard(Protocol):
    """One check on the path. `before` runs once before memory and generation; `on_output`
    runs on the text produced so far (every streamed piece, or once for a whole answer);
    `settle` runs once when the request is over, on every path — with its Answer, or None
    when it failed or was refused after `before` (budgets settle or release here)."""

    name: str

    def before(self, query: Query) -> Query: ...

    def on_output(self, query: Query, text: str, final: bool) -> str | None: ...

    def settle(self, query: Query, answer: Answer | None) -> None: ...

    def close(self) -> None:
        """Release what the guard holds (a connection); Brain.close calls it once."""
        ...


class BaseGuard:
    """Guard with no-op defaults: subclass and override what the guard needs."""

    name = "guard"

    def before(self, query: Query) -> Query:
        return query

    def on_output(self, query: Query, text: str, final: bool) -> str | None:
        """None: the text stands; a string: the text as it must be sent instead."""
        return None

    def settle(self, query: Query, answer: Answer | None) -> None:
        return None

    def close(self) -> None:
        return None

    def annotate(self, query: Query, message: str, **data: object) -> Query:
        note = Annotation(source=self.name, message=message, data=dict(data))
        return query.annotated(note)


def run_before(guards: Sequence[Guard], query: Query) -> Query:
    """Each guard's `before` in order; when one refuses, those before it settle with no
    answer (a reservation they made is released)."""
    done: list[Guard] = []
    try:
        for guard in guards:
            changed = guard.before(query)
            if not isinstance(changed, Query):
                raise TypeError(f"guard {guard.name!r} must return a Query")
            query = changed
            done.append(guard)
    except BaseException:
        run_settle(done, query, None)
        raise
    return query


def run_settle(guards: Sequence[Guard], query: Query, answer: Answer | None) -> None:
    """Every guard's `settle`; one that fails is logged and never fails the answer."""
    for guard in guards:
        try:
            guard.settle(query, answer)
        except Exception:
            log.exception("guard %r failed to settle", guard.name)


def close_guards(guards: Sequence[Guard]) -> None:
    """Close every guard; one that fails is logged and the others are still closed."""
    for guard in guards:
        try:
            guard.close()
        except Exception:
            log.exception("guard %r failed to close", guard.name)


def run_on_output(guards: Sequence[Guard], query: Query, text: str, final: bool) -> str:
    """The text as the guards let it out (each sees the previous one's rewrite)."""
    for guard in guards:
        changed = guard.on_output(query, text, final)
        if changed is not None:
            text = changed
    return text


class OutputFilter:
    """The output side of the guards for one answer: feed the pieces as they come, send what
    `feed` returns, and finish with `finish` (the rest to send, and the whole text).

    The guards see the whole raw text so far each time; what they let out is sent only up to
    `holdback` characters from its end (the largest of the guards'). If a rewrite reaches
    back into text already sent, the answer is stopped (Refused): it cannot be unsent.
    """

    def __init__(self, guards: Sequence[Guard], query: Query) -> None:
        self.guards = guards
        self.query = query
        self.holdback = max((int(getattr(g, "holdback", 0)) for g in guards), default=0)
        self._raw: list[str] = []
        self.sent = ""

    def _release(self, shown: str, upto: int) -> str:
        if not shown.startswith(self.sent):
            raise Refused("the output was rewritten after part of it was sent; stopped",
                          guard="output")
        out = shown[len(self.sent):upto] if upto > len(self.sent) else ""
        self.sent += out
        return out

    def feed(self, piece: str) -> str:
        self._raw.append(piece)
        if not self.guards:
            return piece
        shown = run_on_output(self.guards, self.query, "".join(self._raw), False)
        return self._release(shown, len(shown) - self.holdback)

    def finish(self) -> tuple[str, str]:
        """(the rest to send, the whole text as let out)."""
        raw = "".join(self._raw)
        if not self.guards:
            return "", raw
        shown = run_on_output(self.guards, self.query, raw, True)
        return self._release(shown, len(shown)), shown


class Settlement:
    """Settles the guards when a request is over: with the Answer handed to it (`done`), or
    None when it failed, was refused or was left (a stream closed early)."""

    def __init__(self, guards: Sequence[Guard], query: Query,
                 followups: Followups | None = None) -> None:
        self.guards = guards
        self.query = query
        self.answer: Answer | None = None
        self.followups = followups  # an answered request settles after it is sent

    def __call__(self, answer: Answer) -> Answer:
        self.answer = answer
        return answer

    def __enter__(self) -> Settlement:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.guards:
            return
        if self.answer is not None and self.followups is not None:
            self.followups.add(run_settle, self.guards, self.query, self.answer)
        else:
            run_settle(self.guards, self.query, self.answer)

    async def __aenter__(self) -> Settlement:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.__exit__()


@contextmanager
def stop_on_refusal(cancellation: Cancellation | None) -> Iterator[None]:
    """A stream an output guard refused stops generating (its model is freed)."""
    try:
        yield
    except Refused:
        if cancellation is not None:
            cancellation.cancel(CANCELLED)
        raise

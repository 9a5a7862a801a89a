"""Guards: ordered checks that run before generation (and on streamed output) in Brain.

A guard may refuse a request (raise `Refused`, a 403 / CLI exit 2 with the guard's reason),
modify it (return a changed Query) or annotate it (return it with an Annotation added; the
annotations travel on the Answer and to the sinks). On output, a guard sees the text so far
as it streams and may stop it by raising `Refused`. Policy, rate limits and budgets plug in
here (the security and governance issues); Brain runs them in the order given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol, runtime_checkable

from cerebra.errors import CerebraError
from cerebra.exchange import Annotation, Query


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
    runs on the text produced so far (every streamed piece, or once for a whole answer)."""

    name: str

    def before(self, query: Query) -> Query: ...

    def on_output(self, query: Query, text: str, final: bool) -> None: ...


class BaseGuard:
    """Guard with no-op defaults: subclass and override what the guard needs."""

    name = "guard"

    def before(self, query: Query) -> Query:
        return query

    def on_output(self, query: Query, text: str, final: bool) -> None:
        return None

    def annotate(self, query: Query, message: str, **data: object) -> Query:
        note = Annotation(source=self.name, message=message, data=dict(data))
        return replace(query, annotations=(*query.annotations, note))


def run_before(guards: Sequence[Guard], query: Query) -> Query:
    for guard in guards:
        query = guard.before(query)
        if not isinstance(query, Query):
            raise TypeError(f"guard {guard.name!r} must return a Query")
    return query


def run_on_output(guards: Sequence[Guard], query: Query, text: str, final: bool) -> None:
    for guard in guards:
        guard.on_output(query, text, final)

"""Facts in time for MemoryStore: statements on write, the query's moment, validity on read.

- `with_facts` extracts the statements of items about to be stored (cerebra.memory.facts),
  so the backend records them in the write transaction (cerebra.memory.supersession);
- `query_moment` is the time a search asks about: the `as_of` given (a date, a datetime or
  a UNIX time; anything else is InvalidInput naming `as_of`), else a date the question
  names ("where did I live in March 2023?", "as of 2022-05-01": the end of that day or
  month), else now — and None when the question asks about the past without a date
  ("where did I live before?", "my previous job"), so superseded memories are not
  penalised;
- `staleness` gives hybrid_search each candidate's standing at that moment: minus the
  share of its statements not valid then, or a bonus when it states the then-current
  value of what the question asks about, of the person it asks about (a penalty when the
  same attribute of someone else);
- `with_validity` attaches each memory's validity (valid_from, valid_to, superseded_by and
  its statements) for the API's output.
Backends without `fact_states` (no supersession) make all of these no-ops.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from cerebra.errors import InvalidInput
from cerebra.memory.base import Memory, MemoryBackend, MemoryHit, NewMemory
from cerebra.memory.facts import asked_attributes, extract_facts, speaker_of
from cerebra.memory.supersession import FactState, stale_share, summary
from cerebra.memory.text import date_mentions, terms

_ISO_DAY = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_PAST = re.compile(
    r"(?i)\b(?:before|previous|previously|used\s+to|former|formerly|originally|at\s+first|"
    r"earlier|past|prior|back\s+then|initially)\b"
)
LATEST_TIME = 253_402_300_799.0  # 9999-12-31
_FIRST_PERSON = frozenset({"i", "my", "me", "mine", "we", "our", "us"})


def with_facts(items: Sequence[NewMemory]) -> list[NewMemory]:
    """Items with their statements extracted (those that already carry facts are kept)."""
    return [
        item
        if item.facts is not None
        else replace(
            item,
            facts=extract_facts(item.text, speaker_of(item.metadata, item.scope.user_id or "")),
        )
        for item in items
    ]


def changed_facts(memory: Memory, text: str, metadata: dict[str, Any] | None) -> Any:
    """The statements of an edited memory's new text, "I" being its (new) speaker."""
    return extract_facts(text, speaker_of(metadata or memory.metadata, memory.user_id))


def parse_as_of(value: Any) -> float | None:
    """A moment from an ISO 8601 date or datetime, or a UNIX time; None stays None.
    A bare date means the end of that day (local time, as created_at dates are read)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidInput("as_of must be a date (YYYY-MM-DD), a datetime or a UNIX time",
                           field="as_of")
    if isinstance(value, int | float):
        if not math.isfinite(value) or not 0 <= value <= LATEST_TIME:
            raise InvalidInput("as_of must be a UNIX time between 0 and 9999-12-31",
                               field="as_of")
        return float(value)
    if isinstance(value, str):
        raw = value.strip()
        try:
            if re.fullmatch(r"\d+(?:\.\d+)?", raw):
                return parse_as_of(float(raw))
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
                moment += timedelta(days=1, microseconds=-1)
            try:
                return moment.timestamp()
            except (OverflowError, OSError, ValueError):  # a year local time cannot reach
                return moment.replace(tzinfo=moment.tzinfo or UTC).timestamp()
    raise InvalidInput("as_of must be a date (YYYY-MM-DD), a datetime or a UNIX time",
                       field="as_of")


def query_moment(query: str, as_of: float | None, now: float) -> float | None:
    """The moment a search asks about (see the module doc); None: no supersession penalty."""
    if as_of is not None:
        return as_of
    day = _ISO_DAY.search(query)
    if day is not None:
        try:
            return parse_as_of(day.group(0))
        except InvalidInput:
            pass
    named = date_mentions(terms(query))
    if named:
        return min(now, max(end for _, end in named))
    if _PAST.search(query):
        return None
    return now


def staleness(
    backend: MemoryBackend, moment: float | None, query: str = ""
) -> Callable[[Mapping[int, Memory]], Mapping[int, float]] | None:
    """For hybrid_search, each candidate's standing at `moment` in -1..1 (see `standing`)."""
    states = getattr(backend, "fact_states", None)
    if moment is None or not callable(states):
        return None
    asked = asked_attributes(query)
    words = set(re.findall(r"[a-z]+", query.lower()))

    def scored(memories: Mapping[int, Memory]) -> Mapping[int, float]:
        return standing(memories, states(list(memories)), moment, asked, words)

    return scored


def standing(
    memories: Mapping[int, Memory],
    found: Mapping[int, Sequence[FactState]],
    moment: float,
    asked: frozenset[str],
    words: set[str],
) -> dict[int, float]:
    """Minus the share of a memory's statements not valid at `moment`; else +1 when it
    states an attribute the query asks about of the person asked about (a person the query
    names, or the speaker for "I" / "my"; anyone otherwise), -0.5 when of someone else."""
    named = {
        f.subject
        for facts in found.values()
        for f in facts
        if ":" not in f.subject and all(w in words for w in f.subject.split())
    }
    first_person = bool(words & _FIRST_PERSON)
    out: dict[int, float] = {}
    for row, facts in found.items():
        share = stale_share(facts, moment)
        if share:
            out[row] = -share
            continue
        on_topic = [f for f in facts if f.attribute in asked and f.value]  # "": removed
        if not on_topic or row not in memories:
            continue
        memory = memories[row]
        wanted = named or (
            {speaker_of(memory.metadata, memory.user_id)} if first_person else None
        )
        out[row] = 1.0 if wanted is None or any(f.subject in wanted for f in on_topic) else -0.5
    return out


def with_validity(backend: MemoryBackend, memories: Sequence[Memory]) -> list[Memory]:
    """Memories with their validity attached (unchanged when the backend keeps none)."""
    states = getattr(backend, "fact_states", None)
    if not callable(states) or not memories:
        return list(memories)
    found = states([m.row_id for m in memories])
    return [replace(m, validity=summary(found.get(m.row_id), m.created_at)) for m in memories]


def hits_with_validity(backend: MemoryBackend, hits: Sequence[MemoryHit]) -> list[MemoryHit]:
    """Search hits whose memories carry their validity."""
    memories = with_validity(backend, [h.memory for h in hits])
    return [replace(h, memory=m) for h, m in zip(hits, memories, strict=True)]

"""Cut an answer at the first turn the model invented for another speaker.

A base model completing a transcript (cerebra.models.prompt_format: "User: …" and
"Assistant: …" blocks ending on the assistant's cue) does not know where its turn ends; it
often goes on to write the user's next line and its own reply to it. The exact labels on a
new line ("\\nUser:", "\\nAssistant:") are stop sequences of every transcript prompt, so the
engine stops there; what slips past them are the variants a stop string cannot name
without cutting ordinary text: a label that opens the answer itself, another case ("user:",
"USER :"), indentation, or markdown around the label ("**User:**", "> User:"). With
memories in the prompt, the embedded Gemma most often continues the memory list instead
("- [2026-12-01, exchange] User: I have a friend named Anna…", seen in 2 of 10 answers of a
10-turn conversation with memory on, none of them caught by a stop sequence), so a line in
that format ends the answer too. None of that is the assistant's answer, so it is neither
returned nor remembered as said.

`InventedTurnGuard` applies the cut on the output side of the guards (cerebra.guards): as a
stream is produced (holding back only a line that could still become a label, so no part of
an invented turn is sent before it can be recognised and the first token of an ordinary
answer is not delayed) and on the whole answer, which is the text Brain returns, records in
the ledger and stores as the exchange's memory. Raw completions (the
client wrote the whole prompt, and the format is its own) are left as they are.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from cerebra.exchange import Query
from cerebra.guards import BaseGuard
from cerebra.models.prompt_format import ASSISTANT_LABEL, USER_LABEL

_DECORATION = r"[ \t]{0,4}(?:[*_>#]{1,3}[ \t]{0,2})?"


# A recalled memory as cerebra/prompts/templates/system.j2 lists it: "- [date, source] text"
# (the date may itself hold a comma: "1:56 pm on 8 May, 2023"); not a markdown link "](".
_MEMORY_LINE = r"[ \t]*-[ \t]*\[[^\]\n]{1,60}, [^\]\n,]{1,32}\](?=[ \t]|$|\n)"
_MEMORY_PREFIX = re.compile(r"[ \t]*(?:-(?:[ \t]*(?:\[[^\]\n]{0,96}\]?)?)?)?")


def turn_pattern(labels: Sequence[str] = (USER_LABEL, ASSISTANT_LABEL)) -> re.Pattern[str]:
    """A line (or the text) starting with one of `labels` and a colon, any case, possibly
    indented or in markdown emphasis; or a line listing a recalled memory the way the
    prompt's memory block does (the model continuing that list, often with a "User: …"
    inside it)."""
    names = "|".join(re.escape(label) for label in labels if label)
    return re.compile(
        rf"(?:^|\n)(?:{_DECORATION}(?:{names})[ \t]{{0,2}}(?:[*_]{{1,3}}[ \t]?)?:"
        rf"|{_MEMORY_LINE})",
        re.IGNORECASE,
    )


_TURN = turn_pattern()
_LEAD = re.compile(r"[ \t]{0,4}(?:[*_>#]{1,3}[ \t]{0,2})?")
_AFTER_LABEL = re.compile(r"[ \t]{0,2}(?:[*_]{1,3}[ \t]?)?")
MAX_LABEL = 112  # longer than any line start the pattern matches (a memory's prefix)


def cut_invented_turns(text: str, pattern: re.Pattern[str] = _TURN) -> str:
    """`text` up to the first invented turn (the line break before it excluded), or as is.

    Whitespace before the cut is kept: in a stream part of it may have been sent already."""
    found = pattern.search(text)
    if found is None:
        return text
    return text[: found.start()]


def may_open_turn(line: str, labels: Sequence[str] = (USER_LABEL, ASSISTANT_LABEL)) -> bool:
    """Whether `line` (the text after the last line break) could still grow into a turn
    label or a memory line: "", "  U", "**Assist", "user ", "- [2023-05" are; "Hello",
    "Users", "- milk" are not."""
    if len(line) > MAX_LABEL:
        return False
    if _MEMORY_PREFIX.fullmatch(line):
        return True
    rest = line.lower()[_LEAD.match(line).end() :]  # type: ignore[union-attr]
    for label in (x.lower() for x in labels if x):
        if label.startswith(rest):
            return True
        if rest.startswith(label) and _AFTER_LABEL.fullmatch(rest[len(label) :]):
            return True
    return False


class InventedTurnGuard(BaseGuard):
    """Output guard: the answer ends where a transcript turn of another speaker begins.

    While a stream is produced, the text from the last line break on is held back only
    when that line could still become a label (so a line break that an invented turn
    follows is never sent); any other text goes out as soon as it is generated."""

    name = "invented-turns"

    def __init__(self, labels: Sequence[str] = (USER_LABEL, ASSISTANT_LABEL)) -> None:
        self.labels = tuple(labels)
        self.pattern = turn_pattern(labels)

    def on_output(self, query: Query, text: str, final: bool) -> str | None:
        if query.raw:
            return None
        cut = cut_invented_turns(text, self.pattern)
        if cut is not text:
            return cut
        if final:
            return None
        start = text.rfind("\n")
        if may_open_turn(text[start + 1 :], self.labels):
            return text[: max(start, 0)]
        return None

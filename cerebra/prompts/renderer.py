"""Prompt rendering: persona and recalled memories as a Jinja2 system block, within a budget.

Memories arrive best first; each one goes in with its date and source until the budget is
spent, so what is injected is always the most useful prefix of the recall.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import jinja2

from cerebra.memory.base import MemoryHit
from cerebra.models.base import Message

DEFAULT_PERSONA = (
    "The following is a conversation between a User and a helpful, honest Assistant. "
    "The Assistant answers briefly and uses what it remembers about the User."
)


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("cerebra.prompts", "templates"),
        autoescape=False,
        trim_blocks=True,
        keep_trailing_newline=False,
        undefined=jinja2.StrictUndefined,
    )


@dataclass(frozen=True)
class RenderedPrompt:
    messages: tuple[Message, ...]
    injected: tuple[MemoryHit, ...]
    skipped: tuple[MemoryHit, ...]


def _memory_line(hit: MemoryHit) -> dict[str, str]:
    when = dt.datetime.fromtimestamp(hit.memory.created_at, tz=dt.UTC).strftime("%Y-%m-%d")
    session_date = hit.memory.metadata.get("session_date")
    return {
        "date": str(session_date) if session_date else when,
        "source": hit.memory.source,
        "text": " ".join(hit.memory.text.split()),
    }


def render_conversation(
    messages: Sequence[Message],
    hits: Sequence[MemoryHit],
    *,
    count_tokens: Callable[[str], int],
    token_budget: int,
    persona: str | None = DEFAULT_PERSONA,
) -> RenderedPrompt:
    """Put the system block (persona + memories within `token_budget` tokens) in front.

    With `persona=None` (the gateway), the client's messages pass through unchanged except
    that recalled memories join its first system message (or a new one in front).
    """
    template = _environment().get_template("system.j2")
    injected: list[MemoryHit] = []
    skipped: list[MemoryHit] = []
    used = 0
    for hit in hits:
        line = _memory_line(hit)
        cost = count_tokens(f"- [{line['date']}, {line['source']}] {line['text']}")
        if used + cost <= token_budget:
            injected.append(hit)
            used += cost
        else:
            skipped.append(hit)
    system = template.render(persona=persona, memories=[_memory_line(h) for h in injected])
    system = system.strip()
    turns = list(messages)
    if persona is None and turns and turns[0].role == "system":
        merged = f"{turns[0].content}\n\n{system}" if system else turns[0].content
        turns[0] = Message("system", merged)
    elif system:
        turns.insert(0, Message("system", system))
    return RenderedPrompt(tuple(turns), tuple(injected), tuple(skipped))


def render_messages(
    prompt: str,
    hits: Sequence[MemoryHit],
    *,
    count_tokens: Callable[[str], int],
    token_budget: int,
    history: Sequence[Message] = (),
    persona: str | None = DEFAULT_PERSONA,
) -> RenderedPrompt:
    """System block, then the history, then the prompt as the last user turn."""
    return render_conversation(
        (*history, Message("user", prompt)),
        hits,
        count_tokens=count_tokens,
        token_budget=token_budget,
        persona=persona,
    )

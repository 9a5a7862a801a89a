"""The profile block Brain puts into a prompt: a few lines about the user, most confident
first, within `memory.profile_share` of the memory token budget.

For a request with a user id and memory on, the user's profile as the request's agent
knows it (cerebra.memory.profile) becomes a block of lines ("- lives in: berlin"), cut to
the lines that fit the share; the tokens it takes are taken from the budget of long-term
and working memory. It joins the system message like the working-memory block, and is left
out when the whole prompt plus the answer's max_tokens would pass the model's context. A
backend without facts, or a user with no profile, adds nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cerebra.errors import CerebraError
from cerebra.memory.profile import Profile, Profiles
from cerebra.memory.working_session import merge_block
from cerebra.models.base import Message
from cerebra.models.prompt_format import render_transcript

if TYPE_CHECKING:
    from cerebra.exchange import Query

log = logging.getLogger("cerebra.memory.profile")

HEADER = "About the user (their profile, most confident first):"


def render_profile(profile: Profile, *, count_tokens: Callable[[str], int], budget: int) -> str:
    """The block of `profile`'s lines that fits `budget` tokens ("" when none does)."""
    if not profile.entries or budget <= 0:
        return ""
    used = count_tokens(HEADER)
    lines: list[str] = []
    for entry in profile.entries:  # most confident first; a line that does not fit is skipped
        line = f"- {entry.line()}"
        cost = count_tokens(line)
        if used + cost <= budget:
            lines.append(line)
            used += cost
    return "\n".join([HEADER, *lines]) if lines else ""


@dataclass(frozen=True)
class ProfileBlock:
    """The block for one request and the tokens it takes from the memory budget."""

    text: str = ""
    tokens: int = 0

    def merged(self, messages: Sequence[Message], *, count_tokens: Callable[[str], int],
               max_context: int, max_tokens: int) -> tuple[Message, ...]:
        """`messages` with the block in the system message, unless that passes the context."""
        if not self.text:
            return tuple(messages)
        merged = merge_block(messages, self.text)
        if count_tokens(render_transcript(merged)) + max_tokens > max_context:
            return tuple(messages)
        return merged


def profile_block(profiles: Profiles, query: Query, *, count_tokens: Callable[[str], int],
                  token_budget: int, share: float) -> ProfileBlock:
    """The profile block of `query`'s user (nothing without a user, memory or share)."""
    budget = int(token_budget * share)
    if not query.user_id or not query.memory or query.raw or budget <= 0:
        return ProfileBlock()
    if not profiles.available:
        return ProfileBlock()
    try:
        profile = profiles.read(query.user_id, agent_id=query.agent_id, context=query.context,
                                strict=False)
    except CerebraError as exc:  # answer without it rather than fail
        log.warning("profile skipped: %s", exc.message)
        return ProfileBlock()
    text = render_profile(profile, count_tokens=count_tokens, budget=budget)
    return ProfileBlock(text, count_tokens(text) if text else 0)

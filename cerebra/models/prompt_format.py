"""Completion-style prompt format for base (non-chat) models such as Gemma 3 270M.

A base model continues text; a transcript with speaker labels and a trailing
"Assistant:" gives sensible continuations, and the next speaker label is the stop sequence.
"""

from __future__ import annotations

from collections.abc import Sequence

from cerebra.models.base import GenerationRequest, Message

USER_LABEL = "User"
ASSISTANT_LABEL = "Assistant"
STOP_SEQUENCES: tuple[str, ...] = (f"\n{USER_LABEL}:", f"\n{ASSISTANT_LABEL}:", "\n\n\n")


def render_transcript(messages: Sequence[Message]) -> str:
    """System text first, then one labelled line block per turn, ending on the assistant cue."""
    parts: list[str] = []
    for message in messages:
        content = message.content.strip()
        if message.role == "system":
            parts.append(content + "\n")
        elif message.role == "assistant":
            parts.append(f"{ASSISTANT_LABEL}: {content}")
        else:
            parts.append(f"{USER_LABEL}: {content}")
    parts.append(f"{ASSISTANT_LABEL}:")
    return "\n".join(parts)


def completion_prompt(request: GenerationRequest) -> tuple[str, tuple[str, ...]]:
    """The text to complete and the stop sequences for a request (chat or raw)."""
    if request.prompt is not None:
        return request.prompt, request.stop
    stops = tuple(dict.fromkeys((*request.stop, *STOP_SEQUENCES)))
    return render_transcript(request.messages), stops

"""Training rows: the two shapes every part of the self-improvement loop passes around.

An ``SftRow`` is one supervised example (a prompt and the completion to learn); a
``PrefPair`` is one preference (a prompt, the chosen answer and the rejected one).
Signals build them, datasets store them, curation filters them, training reads them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PrefPair", "Row", "SftRow"]


@dataclass(frozen=True)
class SftRow:
    """One supervised fine-tuning example."""

    prompt: str
    completion: str
    source: str = ""
    trace_id: str | None = None
    task: str | None = None


@dataclass(frozen=True)
class PrefPair:
    """One preference pair for DPO: the chosen answer is preferred over the rejected one."""

    prompt: str
    chosen: str
    rejected: str
    source: str = ""
    trace_id: str | None = None
    task: str | None = None


Row = SftRow | PrefPair

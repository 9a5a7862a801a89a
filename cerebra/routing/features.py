"""Prompt feature extraction: what a contextual bandit knows about a request before routing.

Features are cheap (regexes over the last user turn, no model calls) so extraction stays
well under the router's overhead budget. `PromptFeatures.vector()` is the fixed-length
numeric form LinUCB learns on; `task` is the discrete part other strategies can key on.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from cerebra.errors import InvalidInput
from cerebra.models.base import GenerationRequest

TASK_TYPES: tuple[str, ...] = ("chat", "code", "math", "summarize", "translate", "creative")
# Length (in approximate tokens) that maps to 1.0 on the log-length feature.
LENGTH_SCALE_TOKENS = 4096

_TASK_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "code",
        re.compile(
            r"```|\bdef \w+\(|\bclass \w+[:(]|\bfunction\b|\bimport \w+|\bcompile|"
            r"\b(python|javascript|typescript|rust|golang|java|sql|regex|bug|stack ?trace|"
            r"refactor|unit tests?|code)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "math",
        re.compile(
            r"\b(solve|equation|integral|derivative|prove|theorem|probability|calculate|"
            r"compute|sum of|how many|percent)\b|\d+\s*[-+*/^=]\s*\d+",
            re.IGNORECASE,
        ),
    ),
    (
        "summarize",
        re.compile(r"\b(summari[sz]e|summary|tl;?dr|key points|condense|abstract)\b", re.I),
    ),
    ("translate", re.compile(r"\b(translate|translation|in (french|german|spanish|english|"
                             r"chinese|japanese|italian|portuguese))\b", re.I)),
    ("creative", re.compile(r"\b(poem|story|haiku|lyrics|song|fiction|imagine|slogan)\b", re.I)),
)


@dataclass(frozen=True)
class PromptFeatures:
    """What the router knows about one request."""

    tokens: int
    task: str = "chat"
    turns: int = 1
    has_code: bool = False
    question: bool = False

    def __post_init__(self) -> None:
        if self.task not in TASK_TYPES:
            known = ", ".join(TASK_TYPES)
            raise InvalidInput(f"unknown task type {self.task!r}; known: {known}",
                               field="task_type")

    @staticmethod
    def dimension() -> int:
        return 3 + len(TASK_TYPES) + 1

    def vector(self) -> np.ndarray:
        """[bias, log-length, long-prompt flag, one-hot task..., many-turns flag] in 0..1."""
        length = min(math.log1p(self.tokens) / math.log1p(LENGTH_SCALE_TOKENS), 1.0)
        x = np.zeros(self.dimension(), dtype=np.float64)
        x[0] = 1.0
        x[1] = length
        x[2] = 1.0 if self.tokens > 1000 else 0.0
        x[3 + TASK_TYPES.index(self.task)] = 1.0
        x[-1] = 1.0 if self.turns > 4 else 0.0
        return x

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def detect_task(text: str) -> str:
    """The first task type whose pattern matches, else "chat"."""
    for task, pattern in _TASK_PATTERNS:
        if pattern.search(text):
            return task
    return "chat"


def approx_tokens(text: str) -> int:
    """About four characters per token: good enough for routing, and O(1) in Python terms."""
    return max(1, (len(text) + 3) // 4) if text else 0


def extract_features(request: GenerationRequest) -> PromptFeatures:
    """Features of a request; `extra["task_type"]` overrides the detected task."""
    if request.prompt is not None:
        full = request.prompt
        last = request.prompt[-2000:]
        turns = 1
    else:
        full = "\n".join(m.content for m in request.messages)
        users = [m.content for m in request.messages if m.role == "user"]
        last = (users[-1] if users else full)[-2000:]
        turns = max(1, len(users))
    override = request.extra.get("task_type")
    if override is not None and not isinstance(override, str):
        raise InvalidInput("task_type must be a string", field="task_type")
    task = override if override else detect_task(last)
    return PromptFeatures(
        tokens=approx_tokens(full),
        task=task,
        turns=turns,
        has_code="```" in last,
        question=last.rstrip().endswith("?"),
    )

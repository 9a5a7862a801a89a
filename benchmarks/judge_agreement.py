"""Judge agreement (the judges' section of benchmarks/judge.py): how far each local model
can be trusted as a judge.

A fixed set of tasks with known answers, each with one right and one wrong answer. Every
local model judges every pair with `ModelJudge` (pairwise, both orders, temperature 0), and
a checker judge (`CheckerJudge`, the task's known answer) judges the same pair. Reported
per judge model:
- parse_rate: share of judge replies that were the strict JSON verdict asked for;
- position_swap_agreement: share of pairs whose two orders gave the same verdict, among
  pairs where both orders parsed (None when no pair did);
- first_position_rate: share of parsed replies that picked whichever answer was shown first
  (0.5 is unbiased; 1.0 always picks "A");
- checker_agreement: share of tasks where the model judge's winner is the checker's (a tie
  counts as no agreement), and the same among its decisive verdicts;
- seconds per judge call;
- the same under a lenient reading (`lenient_choice`: a bare leading "A"/"B" or a repeated
  "[Answer X]" counts as a choice) — a diagnostic of what the model "meant", not what the
  judge accepts.
Run from benchmarks/judge.py (`python benchmarks/judge.py`); each task's outcome is also
printed to stderr as it is judged (one JSON line), so a long run shows its progress.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cerebra.judging.checker import Check, CheckerJudge, extract_json
from cerebra.judging.model_judge import ModelJudge, PairReply


@dataclass(frozen=True)
class Task:
    prompt: str
    right: str
    wrong: str
    check: Check


TASKS: tuple[Task, ...] = (
    Task("What is the capital of France?", "The capital of France is Paris.",
         "The capital of France is Lyon.", Check.normalized("Paris", contains=True)),
    Task("What is 7 times 8?", "7 times 8 is 56.", "7 times 8 is 54.", Check.numeric(56)),
    Task("How many legs does a spider have?", "A spider has 8 legs.",
         "A spider has 6 legs.", Check.numeric(8)),
    Task("What colour is the sky on a clear day?", "On a clear day the sky is blue.",
         "On a clear day the sky is green.", Check.normalized("blue", contains=True)),
    Task("Which planet is known as the Red Planet?", "Mars is known as the Red Planet.",
         "Venus is known as the Red Planet.", Check.normalized("Mars", contains=True)),
    Task("What is 15 plus 27?", "15 plus 27 is 42.", "15 plus 27 is 32.", Check.numeric(42)),
    Task("What is the boiling point of water at sea level in degrees Celsius?",
         "Water boils at 100 degrees Celsius at sea level.",
         "Water boils at 50 degrees Celsius at sea level.", Check.numeric(100)),
    Task("Who wrote 'Romeo and Juliet'?", "William Shakespeare wrote 'Romeo and Juliet'.",
         "Charles Dickens wrote 'Romeo and Juliet'.",
         Check.regex(r"shakespeare")),
    Task("What is the largest ocean on Earth?", "The Pacific Ocean is the largest.",
         "The Indian Ocean is the largest.", Check.normalized("Pacific", contains=True)),
    Task("How many days are there in a week?", "There are 7 days in a week.",
         "There are 5 days in a week.", Check.numeric(7)),
    Task("Give a JSON object with a key 'city' set to 'Rome'.", '{"city": "Rome"}',
         '{"town": 3}', Check.json_schema({"type": "object", "required": ["city"],
                                           "properties": {"city": {"const": "Rome"}}})),
    Task("What is the square root of 81?", "The square root of 81 is 9.",
         "The square root of 81 is 8.", Check.numeric(9)),
)


class RecordingJudge(ModelJudge):
    """A ModelJudge that keeps the raw replies (for the position-bias count and examples)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.replies: list[str] = []

    def complete(self, user: str, shape: Any = PairReply) -> str:
        text = super().complete(user, shape)
        self.replies.append(text)
        return text


def _judge_stats(judge: RecordingJudge, tasks: Sequence[Task]) -> dict[str, Any]:
    calls = parsed = first_picks = both_parsed = agreed = 0
    with_checker = decisive = decisive_agree = 0
    started = time.perf_counter()
    examples: list[str] = []
    rows: list[tuple[bool, list[str]]] = []
    for i, task in enumerate(tasks):
        # alternate which id comes first, so "right" is not always shown first in order one
        answers = ({"right": task.right, "wrong": task.wrong} if i % 2 == 0
                   else {"wrong": task.wrong, "right": task.right})
        judge.replies.clear()
        verdict = judge.judge(task.prompt, answers)
        replies = list(judge.replies)
        rows.append((i % 2 == 0, replies))
        truth = CheckerJudge(task.check).judge(task.prompt, answers)
        assert truth.winner == "right", (task.prompt, truth.rationale)
        calls += 2
        unparsed = len(verdict.failures)
        parsed += 2 - unparsed
        for reply in replies:
            first_picks += _picked_first(reply)
        if unparsed == 0:
            both_parsed += 1
            agreed += int(verdict.agreement == 1.0)
        with_checker += int(verdict.winner == truth.winner)
        if verdict.winner is not None:
            decisive += 1
            decisive_agree += int(verdict.winner == truth.winner)
        print(json.dumps({"judge": judge.name, "task": i, "winner": verdict.winner,
                          "agreement": verdict.agreement, "unparsed": unparsed,
                          "replies": [r[:80] for r in replies]}), file=sys.stderr, flush=True)
        if len(examples) < 3:
            examples.extend(r[:160] for r in replies[: 3 - len(examples)])
    seconds = time.perf_counter() - started
    return {
        "tasks": len(tasks), "judge_calls": calls,
        "parse_rate": round(parsed / calls, 3),
        "position_swap_agreement": round(agreed / both_parsed, 3) if both_parsed else None,
        "pairs_with_both_orders_parsed": both_parsed,
        "first_position_rate": round(first_picks / parsed, 3) if parsed else None,
        "checker_agreement": round(with_checker / len(tasks), 3),
        "decisive_verdicts": decisive,
        "checker_agreement_when_decisive": (round(decisive_agree / decisive, 3)
                                            if decisive else None),
        "seconds_per_call": round(seconds / calls, 2),
        "lenient_reading (diagnostic)": lenient_stats(rows),
        "example_replies": examples,
    }


_LEAD = re.compile(r"""^\W*(?:(?i:answer)\s+([AB])\b|([AB])(?=\W*$|["'.,:;)\]]|\s*\n))""")
_BLOCK = re.compile(r"\[Answer ([AB])\]")


def lenient_choice(reply: str) -> str | None:
    """A diagnostic reading, not the judge's: the strict JSON verdict if there is one, else
    a reply that starts with the bare letter ("A", ' "B"', "Answer A"), else the first
    "[Answer X]" block it repeats; None when none of these."""
    try:
        return PairReply.model_validate(extract_json(reply)).winner
    except ValueError:
        pass
    lead = _LEAD.search(reply)
    if lead:
        return lead.group(1) or lead.group(2)
    block = _BLOCK.search(reply)
    return block.group(1) if block else None


def lenient_stats(rows: Sequence[tuple[bool, Sequence[str]]]) -> dict[str, Any]:
    """Position-swap and checker agreement under `lenient_choice`. Each row: whether the
    right answer was shown first in the first order, and the two replies (first order,
    then swapped)."""
    read = both = agreed = right = first = 0
    for right_first, replies in rows:
        picks = [lenient_choice(r) for r in replies[:2]]
        read += sum(p is not None for p in picks)
        first += sum(p == "A" for p in picks)
        if len(picks) < 2 or picks[0] is None or picks[1] is None or "tie" in picks:
            continue
        both += 1
        # the same contestant both times: A then B, or B then A
        if picks[0] != picks[1]:
            agreed += 1
            right += int((picks[0] == "A") == right_first)
    return {"read_rate": round(read / (2 * len(rows)), 3) if rows else None,
            "position_swap_agreement": round(agreed / both, 3) if both else None,
            "pairs_read_in_both_orders": both,
            "first_position_rate": round(first / read, 3) if read else None,
            "checker_agreement": round(right / len(rows), 3) if rows else None}


def _picked_first(reply: str) -> int:
    try:
        return int(PairReply.model_validate(extract_json(reply)).winner == "A")
    except ValueError:
        return 0


def judge_agreement(models: Sequence[str] = ("gemma-3-270m", "smollm2-135m-instruct"),
                    *, max_tokens: int = 48) -> dict[str, Any]:
    """Load the local models through Brain (a scratch data folder) and measure each as a
    judge on TASKS."""
    os.environ.setdefault("CEREBRA_HOME", tempfile.mkdtemp(prefix="cerebra-judge-bench-"))
    os.environ.setdefault("CEREBRA_MEMORY__EMBEDDER", "fake")
    os.environ.setdefault("CEREBRA_HEALTH__INTERVAL_S", "0")
    from cerebra.brain import Brain
    from cerebra.config import get_settings

    get_settings.cache_clear()
    brain = Brain.from_settings(get_settings())
    try:
        out: dict[str, Any] = {"tasks": [t.prompt for t in TASKS], "judges": {}}
        for name in models:
            if name not in brain.models:
                out["judges"][name] = {"skipped": "not in the catalog"}
                continue
            judge = RecordingJudge(name, brain=brain, max_tokens=max_tokens)
            out["judges"][name] = _judge_stats(judge, TASKS)
        return out
    finally:
        brain.close()

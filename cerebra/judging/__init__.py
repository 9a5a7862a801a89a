"""Judging: judges and competitions (base, checker, model and panel judges, compete), and the
Bradley–Terry ratings and their storage (ratings, store) that judged results feed.

`Judge(model, registry).compete("hello", agents).winner_id` is the short form; every judge
satisfies `JudgeProtocol` (judge(prompt, answers) -> Verdict)."""

from cerebra.judging.base import CompetitionResult, Entry, JudgeProtocol, Verdict
from cerebra.judging.checker import Check, CheckerJudge
from cerebra.judging.compete import Contestant, Judge, compete
from cerebra.judging.model_judge import ModelJudge
from cerebra.judging.panel import PanelJudge

__all__ = ["Check", "CheckerJudge", "CompetitionResult", "Contestant", "Entry", "Judge",
           "JudgeProtocol", "ModelJudge", "PanelJudge", "Verdict", "compete"]

"""The model judge: a model (any registered one, through Brain, or a ModelBackend directly —
local, or remote over the OpenAI wire) reads the answers and replies with a JSON verdict,
parsed strictly.

Pairwise (the default): every pair is judged in both orders; when the two orders disagree,
the pair is a tie, and the share of pairs whose orders agreed is the verdict's position-swap
agreement. Listwise: the judge ranks all answers at once, in the given and the reversed
order; pairs the two rankings order differently are ties. Length-controlled mode tells the
judge that length is no merit and shows every answer cut to the same number of words (the
shortest answer's length, at least `min_words`), so a longer answer cannot win by length.
A reply that is not the JSON asked for, or a judge model that fails, makes its pair a tie
with the reason in the verdict's failures: it never raises.
"""

from __future__ import annotations

import itertools
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from cerebra.context import DEFAULT_CONTEXT, RequestContext
from cerebra.errors import CerebraError, InvalidInput
from cerebra.judging.base import (
    Comparison,
    Outcome,
    Verdict,
    check_answers,
    scores_from_comparisons,
    winner_of,
)
from cerebra.judging.checker import extract_json
from cerebra.models.base import GenerationRequest, Message, ModelBackend

if TYPE_CHECKING:
    from cerebra.brain import Brain

Mode = Literal["pairwise", "listwise"]
LABELS = string.ascii_uppercase

SYSTEM = (
    "You are an impartial judge. You compare answers to the same question and decide which "
    "is better: correct, helpful and on topic. The order in which answers are shown means "
    "nothing.{length} Reply with one JSON object and nothing else."
)
LENGTH_NOTE = (" Length is no merit: answers are shown cut to the same length; judge what "
               "they say, not how much.")
PAIR_ASK = ('Which answer is better? Reply with JSON only, in this form: '
            '{"winner": "A" or "B" or "tie", "reason": "one short sentence"}')
LIST_ASK = ('Rank the answers from best to worst. Reply with JSON only, in this form: '
            '{{"ranking": [{labels}], "reason": "one short sentence"}}')


class PairReply(BaseModel):
    """The pairwise verdict the judge must send."""

    model_config = ConfigDict(extra="ignore")
    winner: Literal["A", "B", "tie"]
    reason: str = ""

    @field_validator("winner", mode="before")
    @classmethod
    def _case(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().casefold() in ("a", "b", "tie"):
            low = value.strip().casefold()
            return "tie" if low == "tie" else low.upper()
        return value


class ListReply(BaseModel):
    """The listwise verdict: every label exactly once, best first."""

    model_config = ConfigDict(extra="ignore")
    ranking: list[str]
    reason: str = ""


@dataclass(frozen=True)
class _Ask:
    """One call's outcome: the parsed reply, or why there is none."""

    reply: PairReply | ListReply | None
    problem: str = ""


class ModelJudge:
    """A judge backed by a model. `model` is a ModelBackend, or a model name answered through
    `brain` (so the call is routed, guarded and recorded like any other)."""

    def __init__(
        self,
        model: ModelBackend | str,
        *,
        brain: Brain | None = None,
        mode: Mode = "pairwise",
        length_controlled: bool = False,
        min_words: int = 30,
        max_tokens: int = 96,
        max_answer_chars: int = 4000,
        context: RequestContext | None = None,
        name: str | None = None,
        structured: bool = True,
    ) -> None:
        """`structured`: ask for the verdict as structured output (a JSON Schema the model
        is held to); off, the JSON is asked for in the prompt alone."""
        if isinstance(model, str) and brain is None:
            raise InvalidInput("a judge named by model needs a brain to ask it", field="model")
        if mode not in ("pairwise", "listwise"):
            raise InvalidInput("mode must be 'pairwise' or 'listwise'", field="mode")
        self.model = model
        self.brain = brain
        self.mode: Mode = mode
        self.length_controlled = length_controlled
        self.min_words = min_words
        self.max_tokens = max_tokens
        self.max_answer_chars = max_answer_chars
        self.context = context or DEFAULT_CONTEXT
        self.structured = structured
        model_name = model if isinstance(model, str) else model.name
        self.name = name or f"model:{model_name}:{mode}{':lc' if length_controlled else ''}"

    # -- judging --------------------------------------------------------------------------
    def judge(self, prompt: str, answers: Mapping[str, str]) -> Verdict:
        check_answers(answers)
        shown = self._shown(answers)
        if len(shown) == 1:
            (only,) = shown
            return Verdict(winner=only, scores={only: 1.0}, rationale="the only answer",
                           judge=self.name)
        if self.mode == "listwise":
            return self._listwise(prompt, shown)
        return self._pairwise(prompt, shown)

    def _pairwise(self, prompt: str, shown: Mapping[str, str]) -> Verdict:
        comparisons: list[Comparison] = []
        reasons: list[str] = []
        failures: list[str] = []
        agreed = judged = 0
        for a, b in itertools.combinations(shown, 2):
            first = self._ask(self._pair_prompt(prompt, shown[a], shown[b]), PairReply)
            second = self._ask(self._pair_prompt(prompt, shown[b], shown[a]), PairReply)
            one = _pair_outcome(first.reply, swapped=False)
            two = _pair_outcome(second.reply, swapped=True)
            for ask, order in ((first, f"{a} first"), (second, f"{b} first")):
                if ask.reply is None:
                    failures.append(f"{a} vs {b} ({order}): {ask.problem}")
            if one is None or two is None:
                outcome: Outcome = "tie"
                reasons.append(f"{a} vs {b}: tie (no verdict in "
                               f"{'both orders' if one is None and two is None else 'one order'})")
            else:
                judged += 1
                if one == two:
                    agreed += 1
                    outcome = one
                    why = first.reply.reason if isinstance(first.reply, PairReply) else ""
                    reasons.append(f"{a} vs {b}: {_said(a, b, outcome)}"
                                   + (f" — {why}" if why else ""))
                else:
                    outcome = "tie"
                    reasons.append(f"{a} vs {b}: tie (the orders disagree: {_said(a, b, one)} "
                                   f"when {a} came first, {_said(a, b, two)} when {b} did)")
            comparisons.append(Comparison(a, b, outcome))
        scores = scores_from_comparisons(list(shown), comparisons)
        return Verdict(winner=winner_of(scores), scores=scores, rationale="; ".join(reasons),
                       judge=self.name, agreement=(agreed / judged) if judged else None,
                       comparisons=tuple(comparisons), failures=tuple(failures))

    def _listwise(self, prompt: str, shown: Mapping[str, str]) -> Verdict:
        ids = list(shown)
        orders = (ids, ids[::-1])
        rankings: list[list[str]] = []
        failures: list[str] = []
        reasons: list[str] = []
        for order in orders:
            ask = self._ask(self._list_prompt(prompt, [shown[c] for c in order]), ListReply)
            ranking = _ranking(ask.reply, order) if ask.reply is not None else None
            if ranking is None:
                problem = ask.problem or "the ranking is not every label exactly once"
                failures.append(f"order {', '.join(order)}: {problem}")
            else:
                rankings.append(ranking)
                if isinstance(ask.reply, ListReply) and ask.reply.reason:
                    reasons.append(ask.reply.reason)
        comparisons: list[Comparison] = []
        agreed = 0
        for a, b in itertools.combinations(ids, 2):
            outcomes = {("a" if r.index(a) < r.index(b) else "b") for r in rankings}
            if len(rankings) == 2 and len(outcomes) == 1:
                agreed += 1
                comparisons.append(Comparison(a, b, outcomes.pop()))  # type: ignore[arg-type]
            else:
                comparisons.append(Comparison(a, b, "tie"))
        scores = scores_from_comparisons(ids, comparisons)
        pairs = len(ids) * (len(ids) - 1) // 2
        if len(rankings) == 2:
            summary = (f"rankings {' > '.join(rankings[0])} and {' > '.join(rankings[1])}; "
                       f"pairs ordered differently are ties")
        else:
            summary = "no ranking in both orders: every pair is a tie"
        return Verdict(winner=winner_of(scores), scores=scores,
                       rationale="; ".join([summary, *reasons]), judge=self.name,
                       agreement=(agreed / pairs) if len(rankings) == 2 else None,
                       comparisons=tuple(comparisons), failures=tuple(failures))

    # -- prompts ----------------------------------------------------------------------------
    def _shown(self, answers: Mapping[str, str]) -> dict[str, str]:
        shown = {cid: text.strip()[: self.max_answer_chars] for cid, text in answers.items()}
        if not self.length_controlled:
            return shown
        limit = max(self.min_words, min(len(t.split()) for t in shown.values()))
        return {cid: _cut(text, limit) for cid, text in shown.items()}

    def _system(self) -> str:
        return SYSTEM.format(length=LENGTH_NOTE if self.length_controlled else "")

    def _pair_prompt(self, prompt: str, first: str, second: str) -> str:
        return (f"Question:\n{prompt}\n\n{_block('A', first)}\n\n{_block('B', second)}\n\n"
                f"{PAIR_ASK}")

    def _list_prompt(self, prompt: str, texts: Sequence[str]) -> str:
        blocks = "\n\n".join(_block(LABELS[i], t) for i, t in enumerate(texts))
        labels = ", ".join(f'"{LABELS[i]}"' for i in range(len(texts)))
        return f"Question:\n{prompt}\n\n{blocks}\n\n{LIST_ASK.format(labels=labels)}"

    # -- the model ----------------------------------------------------------------------------
    def complete(self, user: str, shape: type[PairReply] | type[ListReply] = PairReply) -> str:
        """The judge model's reply to one judging prompt (raises on model errors). The reply
        is asked for as structured output (`response_format` with the verdict's JSON Schema):
        local models are held to it by a grammar, remote ones by their JSON mode."""
        messages = (Message("system", self._system()), Message("user", user))
        extra = {"response_format": _response_format(shape)} if self.structured else {}
        if isinstance(self.model, str):
            assert self.brain is not None
            answer = self.brain.ask(user, messages=messages, model=self.model, persona=None,
                                    memory=False, temperature=0.0, max_tokens=self.max_tokens,
                                    endpoint="judge", context=self.context, extra=extra)
            return answer.answer
        request = GenerationRequest(messages=messages, max_tokens=self.max_tokens,
                                    temperature=0.0, context=self.context, extra=extra)
        return self.model.generate(request).text

    def _ask(self, user: str, shape: type[PairReply] | type[ListReply]) -> _Ask:
        try:
            text = self.complete(user, shape)
        except CerebraError as exc:
            return _Ask(None, f"the judge model failed: {exc.message}")
        try:
            value = extract_json(text)
        except ValueError:
            return _Ask(None, f"unparseable reply, no JSON in it: {_clip(text)!r}")
        try:
            return _Ask(shape.model_validate(value))
        except ValidationError as exc:
            where = ".".join(str(p) for p in exc.errors()[0]["loc"]) or "the value"
            return _Ask(None, f"unparseable reply, the JSON is not the verdict asked for "
                              f"({where}: {exc.errors()[0]['msg']}): {_clip(text)!r}")


def _response_format(shape: type[PairReply] | type[ListReply]) -> dict[str, object]:
    """OpenAI's structured-output request for a verdict of `shape`: the winner (or the
    ranking) first and a short reason, so a reply cut at max_tokens still parses."""
    if shape is PairReply:
        properties: dict[str, object] = {"winner": {"type": "string",
                                                    "enum": ["A", "B", "tie"]}}
        first = "winner"
    else:
        properties = {"ranking": {"type": "array", "items": {"type": "string",
                                                              "maxLength": 2}}}
        first = "ranking"
    properties["reason"] = {"type": "string", "maxLength": 160}
    schema = {"type": "object", "properties": properties, "required": [first, "reason"],
              "additionalProperties": False}
    return {"type": "json_schema", "json_schema": {"name": "verdict", "schema": schema}}


def _pair_outcome(reply: PairReply | ListReply | None, *, swapped: bool) -> Outcome | None:
    """The reply in the pair's own terms (a = the first contestant of the pair)."""
    if not isinstance(reply, PairReply):
        return None
    if reply.winner == "tie":
        return "tie"
    first_won = reply.winner == "A"
    return "a" if first_won != swapped else "b"


def _ranking(reply: PairReply | ListReply | None, order: Sequence[str]) -> list[str] | None:
    if not isinstance(reply, ListReply):
        return None
    labels = [r.strip().upper() for r in reply.ranking]
    if sorted(labels) != sorted(LABELS[: len(order)]):
        return None
    return [order[LABELS.index(label)] for label in labels]


def _said(a: str, b: str, outcome: Outcome) -> str:
    return "a tie" if outcome == "tie" else f"{a if outcome == 'a' else b} better"


def _block(label: str, text: str) -> str:
    return f"[Answer {label}]\n{text}\n[End of answer {label}]"


def _cut(text: str, words: int) -> str:
    parts = text.split()
    return text if len(parts) <= words else " ".join(parts[:words]) + "…"


def _clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

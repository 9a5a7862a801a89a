"""compete(): run several models or agents on one prompt, judge their answers, and let the
verdict flow on — into the judging store (comparisons for the ratings), the router (each
judged answer's score is feedback for the routing decision that produced it, through
`Brain.feedback`), and the agents' records (the winner reinforced, losers recorded and
optionally sandboxed). `Judge(model, registry).compete(prompt, agents)` is the short form.

Contestants: a `Contestant`; a ModelBackend (answers directly); an agent (an object with an
`id`, or "agent:<id>"); a model name ("model:<name>"); a bare string is an agent when a
registry is given, else a model name. A contestant whose model fails scores 0 (the reason
is kept); an unknown agent or model is the caller's error (404).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from cerebra.context import DEFAULT_CONTEXT, RequestContext
from cerebra.errors import CerebraError, InvalidInput, NotFound
from cerebra.feedback import apply_feedback
from cerebra.improve.signals import SignalStore, record_verdict
from cerebra.judging.base import (
    CompetitionResult,
    Entry,
    JudgeProtocol,
    Verdict,
    check_answers,
    comparisons_from_scores,
)
from cerebra.judging.model_judge import Mode, ModelJudge
from cerebra.models.base import GenerationRequest, Message, ModelBackend

if TYPE_CHECKING:
    from cerebra.brain import Brain
    from cerebra.exchange import Answer


class AgentsLike(Protocol):
    """What compete needs of an agent registry (cerebra.agents.AgentRegistry fits)."""

    def ask(self, agent_id: str, prompt: str, *, brain: Brain,
            context: RequestContext | None = None, competition: bool = False,
            **options: Any) -> Answer: ...

    def record(self, agent_id: str, outcome: bool | float, *,
               reason: str | None = None) -> Any: ...

    def sandbox(self, agent_id: str, reason: str) -> Any: ...


class StoreLike(Protocol):
    """Where competitions are kept (cerebra.judging.store.JudgingStore fits)."""

    def record_competition(self, context: RequestContext, result: Any, *,
                           category: str = "") -> str: ...


@dataclass(frozen=True)
class Contestant:
    """One competitor: a model (a backend, a model name, or None for the Brain's own
    choice — the router's, when one is on) or an agent."""

    id: str
    kind: Literal["model", "agent"] = "model"
    model: ModelBackend | str | None = None


def as_contestant(item: object, *, agents: bool) -> Contestant:
    """Read one contestant as compete accepts it (see the module docstring)."""
    if isinstance(item, Contestant):
        return item
    if isinstance(item, str):
        kind, sep, rest = item.partition(":")
        if sep and kind in ("model", "agent") and rest:
            return Contestant(rest, "agent") if kind == "agent" else Contestant(rest, "model",
                                                                                  rest)
        return Contestant(item, "agent") if agents else Contestant(item, "model", item)
    if callable(getattr(item, "generate", None)) and isinstance(getattr(item, "name", None),
                                                                  str):
        backend: ModelBackend = item  # type: ignore[assignment]
        return Contestant(backend.name, "model", backend)
    agent_id = getattr(item, "id", None)
    if isinstance(agent_id, str):
        return Contestant(agent_id, "agent")
    raise InvalidInput(f"cannot compete with {type(item).__name__}: name a model or an agent",
                       field="contestants")


def compete(
    prompt: str,
    contestants: Sequence[object],
    *,
    judge: JudgeProtocol,
    brain: Brain | None = None,
    context: RequestContext | None = None,
    registry: AgentsLike | None = None,
    store: StoreLike | None = None,
    category: str = "",
    feedback: bool = True,
    sandbox_losers: bool = False,
    max_tokens: int | None = None,
    temperature: float | None = None,
) -> CompetitionResult:
    """Run each contestant on `prompt`, judge the answers, and record what follows."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidInput("the prompt must be non-blank text", field="prompt")
    context = context or getattr(registry, "context", None) or DEFAULT_CONTEXT
    field_ = [as_contestant(c, agents=registry is not None) for c in contestants]
    if len(field_) < 2:
        raise InvalidInput("a competition needs at least two contestants", field="contestants")
    if len({c.id for c in field_}) != len(field_):
        raise InvalidInput("contestant ids must be distinct", field="contestants")
    options: dict[str, Any] = {"endpoint": "compete"}
    if max_tokens is not None:
        options["max_tokens"] = max_tokens
    if temperature is not None:
        options["temperature"] = temperature
    entries = [_run(c, prompt, brain, registry, context, options) for c in field_]
    verdict = _judged(judge, prompt, entries)
    entries = [Entry(e.contestant_id, e.kind, e.answer, e.model, e.trace_id, e.error,
                     verdict.scores.get(e.contestant_id, 0.0)) for e in entries]
    effects: dict[str, Any] = {}
    result = CompetitionResult(prompt=prompt, entries=tuple(entries), verdict=verdict,
                               tenant_id=context.tenant_id, effects=effects)
    if registry is not None:
        effects.update(_record_agents(registry, result, sandbox_losers))
    if feedback and brain is not None:
        if verdict.agreement is None and verdict.failures:  # no judgement was made at all
            effects["feedback"] = "skipped: the judge gave no usable verdict"
        elif verdict.agreement == 0.0:  # every pair flipped with the order: position only
            effects["feedback"] = ("skipped: the judge's verdicts followed the answers' "
                                   "order, not their content")
        else:
            effects["feedback"] = _feedback(brain, result, judge.name, context)
            effects["signals"] = _signals(brain, result, category, context)
    if store is not None:
        effects["stored"] = store.record_competition(context, result, category=category)
    return result


def _run(c: Contestant, prompt: str, brain: Brain | None, registry: AgentsLike | None,
         context: RequestContext, options: dict[str, Any]) -> Entry:
    try:
        if c.kind == "agent":
            if registry is None or brain is None:
                raise InvalidInput("agents compete through a registry and a brain",
                                   field="contestants")
            answer = registry.ask(c.id, prompt, brain=brain, context=context,
                                  competition=True, **options)
            return Entry(c.id, "agent", answer.answer, answer.model, answer.trace_id)
        if c.model is None or isinstance(c.model, str):
            if brain is None:
                raise InvalidInput(f"model {c.id!r} answers through a brain; none was given",
                                   field="contestants")
            answer = brain.ask(prompt, model=c.model, memory=False, context=context, **options)
            return Entry(c.id, "model", answer.answer, answer.model, answer.trace_id)
        request = GenerationRequest(
            messages=(Message("user", prompt),), context=context,
            max_tokens=options.get("max_tokens", 128),
            temperature=options.get("temperature", 0.7))
        gen = c.model.generate(request)
        return Entry(c.id, "model", gen.text, gen.model)
    except NotFound:
        raise  # an unknown agent or model is the caller's mistake
    except InvalidInput as exc:
        if exc.field == "contestants":
            raise
        return Entry(c.id, c.kind, "", error=f"{exc.code}: {exc.message}")
    except CerebraError as exc:  # the model failed (backend error, overload, too long...)
        return Entry(c.id, c.kind, "", error=f"{exc.code}: {exc.message}")


def _judged(judge: JudgeProtocol, prompt: str, entries: Sequence[Entry]) -> Verdict:
    """The judge's verdict on the answers given; contestants that gave none score 0 and
    lose to every one that did."""
    answers = {e.contestant_id: e.answer for e in entries if not e.error}
    failed = [e for e in entries if e.error]
    if not answers:
        scores = {e.contestant_id: 0.0 for e in entries}
        return Verdict(None, scores, "no contestant answered", judge.name,
                       comparisons=comparisons_from_scores(scores),
                       failures=tuple(f"{e.contestant_id}: {e.error}" for e in failed))
    check_answers(answers)
    verdict = judge.judge(prompt, answers)
    if not failed:
        return verdict
    scores = {e.contestant_id: (0.0 if e.error else verdict.scores.get(e.contestant_id, 0.0))
              for e in entries}
    extra = tuple(c for c in comparisons_from_scores(scores)
                  if c.a in {f.contestant_id for f in failed}
                  or c.b in {f.contestant_id for f in failed})
    return Verdict(verdict.winner, scores,
                   verdict.rationale + "; " + "; ".join(
                       f"{e.contestant_id} gave no answer ({e.error})" for e in failed),
                   verdict.judge, verdict.agreement, (*verdict.comparisons, *extra),
                   (*verdict.failures, *(f"{e.contestant_id}: {e.error}" for e in failed)))


def _record_agents(registry: AgentsLike, result: CompetitionResult,
                   sandbox_losers: bool) -> dict[str, Any]:
    """Winner: a success; contestants scoring below the top: a failure (and, if asked,
    the sandbox); a shared top (a tie) is recorded for nobody at the top."""
    agents = [e for e in result.entries if e.kind == "agent"]
    if not agents:
        return {}
    best = max(result.scores.values(), default=0.0)
    records: dict[str, str] = {}
    sandboxed: list[str] = []
    for e in agents:
        won = e.contestant_id == result.winner_id
        lost = e.error or e.score < best
        if not (won or lost):
            continue
        agent = registry.record(e.contestant_id, won,
                                reason=f"competition {result.id}: {'won' if won else 'lost'}")
        if lost and sandbox_losers:
            agent = registry.sandbox(e.contestant_id, f"lost competition {result.id}")
            sandboxed.append(e.contestant_id)
        records[e.contestant_id] = str(getattr(agent, "title", "won" if won else "lost"))
    return {"records": records, "sandboxed": sandboxed}


def _feedback(brain: Brain, result: CompetitionResult, judge: str,
              context: RequestContext) -> dict[str, Any]:
    """Each judged answer's score as its feedback (ledger quality, memory salience, and the
    router's reward for the decision behind it); refusals are noted, not raised. Skipped
    when the judge could not judge at all (unparseable replies, a failing judge model): a
    made-up 0.5 would teach the router noise and block a real rating later."""
    out: dict[str, Any] = {}
    for e in result.entries:
        if not e.trace_id:
            continue
        try:  # the verdict itself becomes judge signals (_signals), not a user's score
            done = apply_feedback(brain.ledger, brain.memory, brain.router, e.trace_id,
                                  e.score, f"judged by {judge} in competition {result.id}",
                                  context=context, signal=False)
            out[e.contestant_id] = done.get("router", {}).get("reward", "recorded")
        except CerebraError as exc:
            out[e.contestant_id] = f"not recorded: {exc.message}"
    return out


def _signals(brain: Brain, result: CompetitionResult, category: str,
             context: RequestContext) -> int | str:
    """The verdict as `judge` signals on the judged traces (issue 11: the self-improvement
    loop learns from them; the competition's category is their task); how many."""
    traces = {e.contestant_id: e.trace_id for e in result.entries if e.trace_id}
    if not traces:
        return 0
    try:
        return len(record_verdict(SignalStore(brain.engine), context, result.verdict, traces,
                                  group=result.id, task=category or None))
    except CerebraError as exc:
        return f"not recorded: {exc.message}"


class Judge(ModelJudge):
    """The short form: a model judge that runs competitions among `registry`'s agents (or
    models): `Judge(model, registry).compete("hello", agents).winner_id`. Without a `brain`,
    one is built from settings when something must answer through it (closed by close())."""

    def __init__(self, model: ModelBackend | str, registry: AgentsLike | None = None, *,
                 brain: Brain | None = None, store: StoreLike | None = None,
                 context: RequestContext | None = None, mode: Mode = "pairwise",
                 length_controlled: bool = False, **options: Any) -> None:
        self._owned: Brain | None = None
        if brain is None and (isinstance(model, str) or registry is not None):
            from cerebra.brain import Brain

            brain = self._owned = Brain.from_settings()
        context = context or getattr(registry, "context", None)
        super().__init__(model, brain=brain, mode=mode, length_controlled=length_controlled,
                         context=context, **options)
        self.registry = registry
        self.store = store

    def compete(self, prompt: str, contestants: Sequence[object],
                **options: Any) -> CompetitionResult:
        """`compete()` with this judge, its brain, registry, store and context."""
        return compete(prompt, contestants, judge=self, brain=self.brain,
                       registry=self.registry, store=self.store, context=self.context,
                       **options)

    def close(self) -> None:
        if self._owned is not None:
            self._owned.close()
            self._owned = None


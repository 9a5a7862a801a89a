"""What goes into the prompt path and what comes out: Query, Answer, and the typed options
of `Brain.ask` / `Brain.stream` (a wrong-typed keyword is a mypy error, not a runtime one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

from cerebra.context import DEFAULT_CONTEXT, RequestContext
from cerebra.memory.base import MemoryHit
from cerebra.models.base import Message, ToolCall, Usage
from cerebra.models.cancellation import Cancellation
from cerebra.prompts.renderer import DEFAULT_PERSONA

if TYPE_CHECKING:
    from cerebra.observability.tracing import NoTrace, Trace


@dataclass(frozen=True)
class Annotation:
    """A note a guard attached to a request (kept with the interaction, never sent)."""

    source: str  # the guard's name
    message: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Query:
    """One request through the path: what to answer, for whom, and how to generate."""

    prompt: str  # the user's latest text; memory recall runs on it
    context: RequestContext = DEFAULT_CONTEXT  # tenant, user, agent, session, principal
    history: tuple[Message, ...] = ()
    # The whole conversation as the client sent it (gateway); when set, `history` is unused
    # and `prompt` only drives recall and the ledger.
    messages: tuple[Message, ...] | None = None
    model: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    memory: bool = True
    persona: str | None = DEFAULT_PERSONA  # None: the gateway passes messages through
    raw: bool = False  # a legacy completion: `prompt` is the model's whole input, no memory
    extra: dict[str, Any] = field(default_factory=dict)  # tools, logit_bias, … for backends
    endpoint: str = "library"
    # stops the generation (client gone); default: a new one with the configured time limit
    cancellation: Cancellation | None = None
    annotations: tuple[Annotation, ...] = ()  # added by guards
    # the request's spans, decided by the entry point that knows its headers (a server
    # route); None: the Brain decides (cerebra/observability/tracing.py)
    trace: Trace | NoTrace | None = field(default=None, compare=False, repr=False)

    def annotated(self, *notes: Annotation) -> Query:
        """This query with `notes` after its annotations: what `dataclasses.replace` would
        give, without rebuilding every field through `__init__` (0.8 against 6.7 µs; a
        guard annotates on every request)."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        object.__setattr__(new, "annotations", (*self.annotations, *notes))
        return new

    @property
    def user_id(self) -> str:
        return self.context.user_id

    @property
    def agent_id(self) -> str:
        return self.context.agent_id

    @property
    def session_id(self) -> str:
        return self.context.session_id

    @property
    def tenant_id(self) -> str:
        return self.context.tenant_id


@dataclass
class Answer:
    answer: str
    model: str
    usage: Usage
    latency_ms: float
    trace_id: str
    finish_reason: str = "stop"
    memories: list[MemoryHit] = field(default_factory=list)
    prompt: str = ""
    stored_memory_id: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    routing: dict[str, Any] | None = None  # the router's decision, when a router chose
    annotations: tuple[Annotation, ...] = ()
    cost_usd: float = 0.0  # usage at the serving model's price (what the ledger records)

    def to_dict(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "model": self.model,
            "usage": self.usage.to_dict(),
            "latency_ms": round(self.latency_ms, 3),
            "trace_id": self.trace_id,
            "finish_reason": self.finish_reason,
            "memories": [
                {
                    "id": h.memory.uid,
                    "text": h.memory.text,
                    "score": round(h.score, 6),
                    "signals": {k: round(v, 6) for k, v in h.signals.items()},
                    "source": h.memory.source,
                    "created_at": h.memory.created_at,
                }
                for h in self.memories
            ],
            "stored_memory_id": self.stored_memory_id,
            "tool_calls": [c.to_openai() for c in self.tool_calls],
            "routing": self.routing,
            "cost_usd": self.cost_usd,
        }


class AskOptions(TypedDict, total=False):
    """The keyword options of `Brain.ask` and friends."""

    context: RequestContext
    user_id: str
    agent_id: str
    session_id: str
    history: Sequence[Message]
    messages: Sequence[Message] | None
    model: str | None
    max_tokens: int | None
    temperature: float | None
    top_p: float | None
    stop: Sequence[str]
    memory: bool
    persona: str | None
    raw: bool
    extra: dict[str, Any]
    logit_bias: Mapping[int, float] | None
    endpoint: str
    cancellation: Cancellation | None
    trace: Trace | NoTrace | None


def build_query(prompt: str, options: AskOptions) -> Query:
    """A Query from keyword options; the user/agent/session shortcuts refine the context."""
    opts: dict[str, Any] = dict(options)
    unknown = set(opts) - set(AskOptions.__annotations__)
    if unknown:  # for callers without a type checker
        raise TypeError(f"unexpected arguments: {', '.join(sorted(unknown))}")
    context: RequestContext = opts.pop("context", None) or DEFAULT_CONTEXT
    ids = {k: opts.pop(k) for k in ("user_id", "agent_id", "session_id") if k in opts}
    if ids:
        context = context.with_(**{k: v or "" for k, v in ids.items()})
    bias = opts.pop("logit_bias", None)
    if bias:  # OpenAI-style sampling option, passed to the backend
        opts["extra"] = {**opts.get("extra", {}), "logit_bias": dict(bias)}
    for name in ("history", "stop"):
        if name in opts:
            opts[name] = tuple(opts[name] or ())
    if opts.get("messages") is not None:
        opts["messages"] = tuple(opts["messages"])
    return Query(prompt=prompt, context=context, **opts)

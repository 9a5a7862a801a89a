"""The ModelBackend seam: the request/response types and the protocol every backend meets.

Backends receive chat `messages` (or a raw completion `prompt`) and return text with token
usage. Wrappers (router, cache, fallback, metrics) are ModelBackends themselves.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol, runtime_checkable

from cerebra.context import DEFAULT_CONTEXT, RequestContext
from cerebra.models.cancellation import Cancellation

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True)
class ToolCall:
    """A function call the model asked for; `arguments` is the JSON text it produced."""

    id: str
    name: str
    arguments: str = "{}"

    def to_openai(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass(frozen=True)
class Message:
    role: Role
    content: str
    name: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()  # on assistant turns that called tools
    tool_call_id: str | None = None  # on "tool" turns: the call this result answers


@dataclass(frozen=True)
class Capabilities:
    streaming: bool = True
    max_context: int = 2048
    tools: bool = False
    cost_per_input_token: float = 0.0  # USD per token
    cost_per_output_token: float = 0.0  # USD per token
    # USD per prompt token read from the provider's prompt cache (None: the input price)
    cost_per_cached_input_token: float | None = None

    def cost(self, usage: Usage) -> float:
        """USD of `usage` at these prices (cached prompt tokens at the cached price)."""
        return usage_cost(usage, self.cost_per_input_token, self.cost_per_output_token,
                          self.cost_per_cached_input_token)


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0  # of prompt_tokens, those served from the prompt cache

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


def usage_cost(usage: Usage, input_price: float, output_price: float,
               cached_price: float | None = None) -> float:
    """USD of `usage`: uncached prompt tokens at `input_price`, cached ones (reported by
    the backend) at `cached_price` (None: the input price), completion at `output_price`."""
    cached = min(max(usage.cached_prompt_tokens, 0), usage.prompt_tokens)
    rate = input_price if cached_price is None else cached_price
    return ((usage.prompt_tokens - cached) * input_price + cached * rate
            + usage.completion_tokens * output_price)


@dataclass(frozen=True)
class GenerationRequest:
    """What to generate. Exactly one of `messages` (chat) or `prompt` (raw completion).

    `cancellation` stops the generation between tokens (client gone, wall-clock limit); it
    is not part of what shapes the answer, so it is left out of equality and cache keys.
    """

    messages: tuple[Message, ...] = ()
    prompt: str | None = None
    max_tokens: int = 128
    temperature: float = 0.7
    top_p: float = 0.95
    stop: tuple[str, ...] = ()
    seed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # tools, logit_bias, … for backends
    cancellation: Cancellation | None = field(default=None, compare=False, repr=False)
    # who the request is for: router policies and cache keys read it; backends never send it
    context: RequestContext = field(default=DEFAULT_CONTEXT, compare=False)

    def with_(self, **changes: Any) -> GenerationRequest:
        return replace(self, **changes)


@dataclass(frozen=True)
class Attempt:
    """One try of one backend for a request: how it went and how long it took."""

    backend: str
    ok: bool
    latency_ms: float
    error: str = ""
    waited_s: float = 0.0  # backoff / Retry-After sleep before this attempt

    def to_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "ok": self.ok, "latency_ms": self.latency_ms,
                "error": self.error, "waited_s": self.waited_s}


@dataclass(frozen=True)
class RoutingResult:
    """How a request found the backend that answered: set by a fallback chain (strategy
    "fallback", no decision id) or a router (its decision id, strategy and reason); every
    attempt, failed ones included, in order. Travels on the Generation / final StreamChunk."""

    served_by: str | None
    attempts: tuple[Attempt, ...] = ()
    decision_id: str | None = None
    strategy: str = "fallback"
    chosen: str = ""  # the first choice (a router's pick; a chain's first backend)
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"decision_id": self.decision_id, "strategy": self.strategy,
                "chosen": self.chosen, "served_by": self.served_by, "reason": self.reason,
                "attempts": [a.to_dict() for a in self.attempts]}


@dataclass(frozen=True)
class Generation:
    text: str
    model: str
    usage: Usage
    # "stop" | "length" | "tool_calls" | "error" | "cancelled" | "timeout" (see cancellation)
    finish_reason: str = "stop"
    latency_ms: float = 0.0
    tool_calls: tuple[ToolCall, ...] = ()
    routing: RoutingResult | None = None  # set by a router or a fallback chain


@dataclass(frozen=True)
class StreamChunk:
    """One piece of a stream; the last one carries finish_reason, usage, the complete
    tool calls (if the model called any) and, behind a router or fallback chain, routing."""

    text: str
    finish_reason: str | None = None
    usage: Usage | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    routing: RoutingResult | None = None


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    latency_ms: float
    detail: str = ""


@runtime_checkable
class ModelBackend(Protocol):
    """A source of generations. Sync and async pairs are named alike."""

    name: str

    @property
    def capabilities(self) -> Capabilities: ...

    def count_tokens(self, text: str) -> int: ...

    def generate(self, request: GenerationRequest) -> Generation: ...

    async def agenerate(self, request: GenerationRequest) -> Generation: ...

    def stream(self, request: GenerationRequest) -> Iterator[StreamChunk]: ...

    def astream(self, request: GenerationRequest) -> AsyncIterator[StreamChunk]: ...

    def probe(self) -> ProbeResult: ...


def probe_backend(backend: ModelBackend, prompt: str = "Hello") -> ProbeResult:
    """A synthetic one-token generation used as a health check by backends and registries."""
    start = time.perf_counter()
    try:
        backend.generate(GenerationRequest(prompt=prompt, max_tokens=1, temperature=0.0))
    except Exception as exc:  # a probe reports failure, it never raises
        return ProbeResult(
            False, (time.perf_counter() - start) * 1000, f"{type(exc).__name__}: {exc}"
        )
    return ProbeResult(True, (time.perf_counter() - start) * 1000, "ok")

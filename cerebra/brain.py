"""Brain: the one orchestration path for library, server and CLI.

prompt → validate → embed + recall memories → render within a token budget → generate →
store the exchange as a memory → log the interaction → Answer (with trace id and memories).
Nothing is written unless generation succeeded, and nothing for a generation that was
cancelled (its client went away). Every generation carries a Cancellation with the
configured wall-clock limit; callers (HTTP routes) may pass their own to stop it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from cerebra.config import Settings, get_settings
from cerebra.context import RequestContext
from cerebra.errors import InvalidInput, NotFound
from cerebra.memory.base import MemoryHit
from cerebra.memory.store import MemoryStore, validate_text
from cerebra.models.base import (
    GenerationRequest,
    Message,
    ModelBackend,
    RoutingResult,
    StreamChunk,
    ToolCall,
    Usage,
)
from cerebra.models.cancellation import CANCELLED, Cancellation
from cerebra.models.prompt_format import completion_prompt
from cerebra.models.registry import Lease, ModelRegistry
from cerebra.observability.ledger import InteractionRecord, Ledger
from cerebra.prompts.renderer import DEFAULT_PERSONA, render_conversation

if TYPE_CHECKING:
    from cerebra.models.catalog import Catalog
    from cerebra.routing.router import Router

log = logging.getLogger("cerebra.brain")


@dataclass(frozen=True)
class Query:
    """One request through the path: what to answer, for whom, and how to generate."""

    prompt: str  # the user's latest text; memory recall runs on it
    history: tuple[Message, ...] = ()
    # The whole conversation as the client sent it (gateway); when set, `history` is unused
    # and `prompt` only drives recall and the ledger.
    messages: tuple[Message, ...] | None = None
    user_id: str = ""
    agent_id: str = ""
    session_id: str = ""
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
        }


@dataclass(frozen=True)
class _Prepared:
    query: Query
    backend: ModelBackend
    request: GenerationRequest
    hits: tuple[MemoryHit, ...]
    started: float
    lease: Lease  # holds `backend` (unclosed by a hot swap) until the request is done


class Brain:
    """Runs the prompt path. Build one with `Brain.from_settings()` (or inject parts for tests)."""

    def __init__(
        self,
        *,
        models: ModelRegistry,
        memory: MemoryStore,
        engine: Engine,
        settings: Settings | None = None,
    ) -> None:
        self.models = models
        self.memory = memory
        self.engine = engine
        self.settings = settings or get_settings()
        self.ledger = Ledger(engine, spill_path=self.settings.home / "spill" / "ledger.jsonl")
        self.router: Router | None = None  # set when routing is enabled (see runtime)
        self.catalog: Catalog | None = None  # set when built from settings (see runtime)

    @classmethod
    def from_settings(
        cls,
        settings: Settings | None = None,
        *,
        model: ModelBackend | None = None,
        embedder: Any = None,
    ) -> Brain:
        from cerebra.runtime import build_brain

        return build_brain(settings or get_settings(), model=model, embedder=embedder)

    def new_cancellation(self) -> Cancellation:
        """A token with the configured wall-clock limit (CEREBRA_GENERATION_TIMEOUT_S)."""
        return Cancellation(timeout_s=self.settings.generation_timeout_s or None)

    # -- the path -----------------------------------------------------------------------
    def _prepare(self, query: Query) -> _Prepared:
        started = time.perf_counter()
        prompt = validate_text(
            query.prompt, field="prompt", max_chars=self.settings.memory_max_chars
        )
        if query.max_tokens is not None and query.max_tokens < 1:
            raise InvalidInput("max_tokens must be at least 1", field="max_tokens")
        cap = self.settings.max_tokens_cap
        if query.max_tokens is not None and query.max_tokens > cap:
            raise InvalidInput(
                f"max_tokens is {query.max_tokens}; the cap is {cap} (CEREBRA_MAX_TOKENS_CAP)",
                field="max_tokens",
                cap=cap,
            )
        if query.temperature is not None and not 0.0 <= query.temperature <= 2.0:
            raise InvalidInput("temperature must be between 0 and 2", field="temperature")
        lease = self.models.lease(query.model)  # the caller releases it when the request ends
        try:
            return self._prepare_on(lease, query, prompt, started)
        except BaseException:
            lease.release()
            raise

    def _prepare_on(self, lease: Lease, query: Query, prompt: str, started: float) -> _Prepared:
        backend = lease.backend
        hits: list[MemoryHit] = []
        if query.raw:
            query = replace(query, memory=False)
        if query.memory and self.settings.memory_top_k > 0:
            hits = self.memory.search(
                query.agent_id, prompt, k=self.settings.memory_top_k, user_id=query.user_id
            )
        conversation = (
            query.messages
            if query.messages is not None
            else (*query.history, Message("user", prompt))
        )
        injected: tuple[MemoryHit, ...] = ()
        if query.raw or (query.persona is None and not hits):
            messages = conversation  # pure pass-through
        else:
            rendered = render_conversation(
                conversation,
                hits,
                count_tokens=backend.count_tokens,
                token_budget=self.settings.memory_token_budget,
                persona=query.persona,
            )
            messages, injected = rendered.messages, rendered.injected
        request = GenerationRequest(
            messages=() if query.raw else messages,
            prompt=prompt if query.raw else None,
            max_tokens=query.max_tokens or self.settings.max_tokens,
            temperature=self.settings.temperature
            if query.temperature is None
            else query.temperature,
            top_p=0.95 if query.top_p is None else query.top_p,
            stop=query.stop,
            extra=query.extra,
            # who it is for: router policies and cache keys read it; backends never send it
            context=RequestContext(tenant_id=self.memory.tenant_id, user_id=query.user_id,
                                   agent_id=query.agent_id, session_id=query.session_id),
            cancellation=query.cancellation or self.new_cancellation(),
        )
        return _Prepared(replace(query, prompt=prompt), backend, request, injected, started, lease)

    def _finish(
        self,
        prep: _Prepared,
        text: str,
        usage: Usage,
        finish_reason: str,
        tool_calls: tuple[ToolCall, ...] = (),
        served_model: str | None = None,
        routed: RoutingResult | None = None,  # how a router / fallback chain found the model
    ) -> Answer:
        query = prep.query
        routing = routed.to_dict() if routed is not None else None
        model_name = (routing or {}).get("served_by") or served_model or prep.backend.name
        trace_id = uuid.uuid4().hex
        stored: str | None = None
        if finish_reason == CANCELLED:  # the client went away: remember and record nothing
            return Answer(answer=text, model=model_name, usage=usage,
                          latency_ms=(time.perf_counter() - prep.started) * 1000,
                          trace_id=trace_id, finish_reason=finish_reason,
                          memories=list(prep.hits), tool_calls=tool_calls, routing=routing)
        if query.memory and text.strip():
            stored = self.memory.add(
                query.agent_id,
                f"User: {query.prompt.strip()}\nAssistant: {text.strip()}",
                user_id=query.user_id,
                session_id=query.session_id,
                tags=["exchange"],
                source="exchange",
                metadata={"trace_id": trace_id, "model": model_name},
            )
        latency_ms = (time.perf_counter() - prep.started) * 1000
        rendered, _ = completion_prompt(prep.request)
        self.ledger.record(
            InteractionRecord(
                trace_id=trace_id,
                tenant_id=self.memory.tenant_id,
                endpoint=query.endpoint,
                model=model_name,
                prompt=query.prompt,
                rendered_prompt=rendered,
                response=text,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                latency_ms=latency_ms,
                memories_used=[{"id": h.memory.uid, "score": round(h.score, 6)} for h in prep.hits],
                stored_memory_uid=stored,
                user_id=query.user_id,
                agent_id=query.agent_id,
                session_id=query.session_id,
                decision_id=(routing or {}).get("decision_id"),
            )
        )
        log.debug(
            "interaction",
            extra={
                "trace_id": trace_id,
                "model": model_name,
                "completion_tokens": usage.completion_tokens,
                "latency_ms": round(latency_ms, 2),
                "memories_used": len(prep.hits),
            },
        )
        return Answer(
            answer=text,
            model=model_name,
            usage=usage,
            latency_ms=latency_ms,
            trace_id=trace_id,
            finish_reason=finish_reason,
            memories=list(prep.hits),
            prompt=rendered,
            stored_memory_id=stored,
            tool_calls=tool_calls,
            routing=routing,
        )

    # -- entry points -------------------------------------------------------------------
    # Each holds the leased model until the request is done (a stream: until it ends or is
    # closed); the routing result comes on the generation / the final chunk.
    def run(self, query: Query) -> Answer:
        prep = self._prepare(query)
        with prep.lease:
            gen = prep.backend.generate(prep.request)
            return self._finish(prep, gen.text, gen.usage, gen.finish_reason, gen.tool_calls,
                                gen.model, gen.routing)

    async def arun(self, query: Query) -> Answer:
        prep = await self._aprepare(query)
        async with prep.lease:
            gen = await prep.backend.agenerate(prep.request)
            return await self._afinish(
                prep, gen.text, gen.usage, gen.finish_reason, gen.tool_calls, gen.model,
                gen.routing,
            )

    def run_stream(self, query: Query) -> Iterator[str | Answer]:
        """Yield text pieces as they are generated, then the final Answer."""
        prep = self._prepare(query)
        pieces: list[str] = []
        last = StreamChunk("")
        with prep.lease:
            for chunk in prep.backend.stream(prep.request):
                if chunk.text:
                    pieces.append(chunk.text)
                    yield chunk.text
                last = chunk
            answer = self._finish(
                prep,
                "".join(pieces),
                last.usage or Usage(0, 0),
                last.finish_reason or "stop",
                last.tool_calls,
                routed=last.routing,
            )
        yield answer

    async def arun_stream(self, query: Query) -> AsyncIterator[str | Answer]:
        prep = await self._aprepare(query)
        pieces: list[str] = []
        last = StreamChunk("")
        async with prep.lease:
            async for chunk in prep.backend.astream(prep.request):
                if chunk.text:
                    pieces.append(chunk.text)
                    yield chunk.text
                last = chunk
            answer = await self._afinish(
                prep,
                "".join(pieces),
                last.usage or Usage(0, 0),
                last.finish_reason or "stop",
                last.tool_calls,
                routed=last.routing,
            )
        yield answer

    async def _aprepare(self, query: Query) -> _Prepared:
        if not query.memory or query.raw:  # nothing slow to do: stay on the event loop
            return self._prepare(query)
        return await asyncio.to_thread(self._prepare, query)

    async def _afinish(
        self,
        prep: _Prepared,
        text: str,
        usage: Usage,
        finish_reason: str,
        tool_calls: tuple[ToolCall, ...],
        served_model: str | None = None,
        routed: RoutingResult | None = None,
    ) -> Answer:
        if not prep.query.memory:
            return self._finish(prep, text, usage, finish_reason, tool_calls, served_model, routed)
        return await asyncio.to_thread(
            self._finish, prep, text, usage, finish_reason, tool_calls, served_model, routed
        )

    # -- conveniences: a prompt with keyword options ---------------------------------------
    def ask(self, prompt: Any, **options: Any) -> Answer:
        """Ask once: `brain.ask("…", user_id=…, agent_id=…, model=…, memory=True)`."""
        return self.run(_query(prompt, options))

    async def aask(self, prompt: Any, **options: Any) -> Answer:
        return await self.arun(_query(prompt, options))

    def stream(self, prompt: Any, **options: Any) -> Iterator[str | Answer]:
        return self.run_stream(_query(prompt, options))

    def astream(self, prompt: Any, **options: Any) -> AsyncIterator[str | Answer]:
        return self.arun_stream(_query(prompt, options))

    # -- feedback ---------------------------------------------------------------------------
    def feedback(self, trace_id: str, quality: float, comment: str | None = None) -> dict[str, Any]:
        """Rate an answer (quality 0..1, higher is better), once. The rating reaches the router
        that chose its model (the bandit learns) and the memories recalled for it (salience
        rises for good answers and falls for bad ones)."""
        if isinstance(quality, bool) or not isinstance(quality, int | float):
            raise InvalidInput("quality must be a number between 0 and 1", field="quality")
        if not 0.0 <= float(quality) <= 1.0:
            raise InvalidInput("quality must be between 0 and 1", field="quality")
        row = self.ledger.get(trace_id)
        if row is None or row["tenant_id"] != self.memory.tenant_id:
            raise NotFound(f"no interaction with trace id {trace_id!r}", field="trace_id")
        if not self.ledger.set_feedback(trace_id, float(quality), comment, self.memory.tenant_id):
            raise InvalidInput("this answer has feedback already", field="trace_id")
        result: dict[str, Any] = {"trace_id": trace_id, "quality": float(quality)}
        used = [m["id"] for m in row["memories_used"] or []]
        if used:
            # quality 0..1 → reward -1..1: a bad answer lowers what it was built on
            result["memories_reinforced"] = self.memory.reinforce(used, 2.0 * quality - 1.0)
        decision_id = row.get("decision_id")
        if decision_id and self.router is not None:
            decision = self.router.feedback(decision_id, float(quality))
            result["router"] = {"decision_id": decision_id, "reward": decision.reward}
        return result

    def close(self) -> None:
        if self.router is not None:
            self.router.close()
        self.ledger.close()
        self.memory.backend.close()
        self.engine.dispose()


def _query(prompt: Any, options: dict[str, Any]) -> Query:
    """Build a Query from keyword options; unknown names are a TypeError, as for a function."""
    known = set(Query.__dataclass_fields__) - {"prompt"}
    unknown = set(options) - known - {"logit_bias"}
    if unknown:
        raise TypeError(f"unexpected arguments: {', '.join(sorted(unknown))}")
    opts = dict(options)
    if "logit_bias" in opts:  # OpenAI-style sampling option, passed to the backend
        bias = opts.pop("logit_bias")
        if bias:
            opts["extra"] = {**opts.get("extra", {}), "logit_bias": dict(bias)}
    for name in ("history", "stop", "messages"):
        if name == "messages" and opts.get(name) is None:
            continue
        if name in opts:
            opts[name] = tuple(opts[name] or ())
    return Query(prompt=prompt, **opts)

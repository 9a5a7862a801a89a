"""Brain: the one orchestration path for library, server and CLI.

context → validate → guards → embed + recall memories → render within a token budget →
generate (on a leased model; output guards as it streams) → store the exchange as a memory
→ sinks (the ledger first) → Answer (with trace id and memories). A Brain serves every
tenant: who a request is for travels on its RequestContext (Query.context).
Nothing is written unless generation succeeded, and nothing for a generation that was
cancelled (its client went away). Every generation carries a Cancellation with the
configured wall-clock limit; callers (HTTP routes) may pass their own to stop it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Unpack

from sqlalchemy import Engine

from cerebra.answer_records import cost_of, interaction_record, remember_exchange
from cerebra.config import Settings, get_settings
from cerebra.context import RequestContext
from cerebra.exchange import Answer, AskOptions, Query, build_query
from cerebra.guards import (
    Guard,
    OutputFilter,
    Settlement,
    close_guards,
    run_before,
    run_on_output,
    run_settle,
    stop_on_refusal,
)
from cerebra.ids import new_id
from cerebra.memory.base import MemoryHit
from cerebra.memory.profile import Profiles
from cerebra.memory.profile_block import profile_block
from cerebra.memory.store import MemoryStore
from cerebra.memory.turns import TurnCounter
from cerebra.memory.working_session import Workspace, build_workspace
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
from cerebra.observability.ledger import Ledger
from cerebra.observability.trace_steps import answer_attributes, trace_for
from cerebra.observability.tracing import NO_TRACE, NoTrace, Trace, build_tracing
from cerebra.offload import Offload
from cerebra.query_checks import checked_query
from cerebra.sinks import Interaction, LedgerSink, Sink, close_all, publish

if TYPE_CHECKING:
    from cerebra.followups import Followups
    from cerebra.governance.audit_log import AuditLog
    from cerebra.jobs.base import JobRunner
    from cerebra.models.catalog import Catalog
    from cerebra.plugins.manager import PluginManager
    from cerebra.routing.router import Router

log = logging.getLogger("cerebra.brain")


@dataclass(frozen=True)
class _Prepared:
    query: Query
    backend: ModelBackend
    request: GenerationRequest
    hits: tuple[MemoryHit, ...]
    started: float
    lease: Lease  # holds `backend` (unclosed by a hot swap) until the request is done
    trace: Trace | NoTrace = NO_TRACE  # the request's spans (NO_TRACE: not sampled)


class Brain:
    """Runs the prompt path. Build one with `Brain.from_settings()` (or inject parts for tests)."""

    def __init__(
        self,
        *,
        models: ModelRegistry,
        memory: MemoryStore,
        engine: Engine,
        settings: Settings | None = None,
        router: Router | None = None,
        catalog: Catalog | None = None,
        guards: Sequence[Guard] = (),
        sinks: Sequence[Sink] = (),
        jobs: JobRunner | None = None,
        plugins: PluginManager | None = None,
        working: Workspace | None = None,
    ) -> None:
        """`guards` run in order before generation and on its output; `sinks` receive every
        finished interaction after the ledger (which is always the first sink). `jobs`, the
        runner of background and periodic jobs (pruning, health probes, router state), is
        closed with the Brain."""
        self.models = models
        self.memory = memory
        self.engine = engine
        self.settings = settings or get_settings()
        self.ledger = Ledger(engine, spill_path=self.settings.home / "spill" / "ledger.jsonl")
        self.router = router  # the learning router, when routing is enabled
        self.catalog = catalog  # the model catalog, when built from settings
        self.jobs = jobs  # the job runner, when built from settings
        self.plugins = plugins  # the loaded plugins, when settings enable them
        self.guards: list[Guard] = list(guards)
        self.turns = TurnCounter(memory)  # conversation positions of stored exchanges
        # each session's recent turns and scratch notes (cerebra/memory/working_session.py)
        self.working = working or build_workspace(self.settings, memory)
        self.profiles = Profiles(memory)  # what memory knows of each user (memory/profile.py)
        self.offload = Offload()  # threads for a memory-on request's recall and storing
        # spans of sampled requests, kept in the database and exported (observability/tracing)
        self.tracing = build_tracing(self.settings.tracing, engine)
        self.sinks: list[Sink] = [LedgerSink(self.ledger), *sinks]
        # the audit log, when a sink keeps one: routes and the CLI record actions through it
        self.audit: AuditLog | None = next(
            (a for s in self.sinks if (a := getattr(s, "audit", None)) is not None), None)
        if self.audit is not None:  # policy decisions are audited too
            from cerebra.governance.guard import connect_audit

            connect_audit(self.guards, self.audit)

    @classmethod
    def from_settings(
        cls,
        settings: Settings | None = None,
        *,
        model: ModelBackend | None = None,
        embedder: Any = None,
        guards: Sequence[Guard] = (),
        sinks: Sequence[Sink] = (),
    ) -> Brain:
        """The one factory: assemble database, models, router, catalog and memory from
        settings (cerebra.runtime) and build the Brain over them."""
        from cerebra.runtime import assemble

        parts = assemble(settings or get_settings(), model=model, embedder=embedder)
        return cls(
            models=parts.models,
            memory=parts.memory,
            engine=parts.engine,
            settings=parts.settings,
            router=parts.router,
            catalog=parts.catalog,
            guards=[*parts.guards, *guards],
            sinks=[*parts.sinks, *sinks],
            jobs=parts.jobs,
            plugins=parts.plugins,
        )

    @classmethod
    def for_feedback(cls, settings: Settings | None = None) -> Brain:
        """A Brain for recording feedback from the CLI: the database and memory, no model.

        Router learning lives in the serving process; from here only memory salience
        changes (use `cerebra router feedback` or the HTTP API to teach a running router).
        """
        from cerebra.runtime import feedback_parts

        settings = settings or get_settings()
        engine, store = feedback_parts(settings)
        return cls(models=ModelRegistry(), memory=store, engine=engine, settings=settings)

    def new_cancellation(self) -> Cancellation:
        """A token with the configured wall-clock limit (CEREBRA_GENERATION_TIMEOUT_S)."""
        return Cancellation(timeout_s=self.settings.generation.timeout_s or None)

    # -- the path -----------------------------------------------------------------------
    def _prepare(self, query: Query, trace: Trace | NoTrace = NO_TRACE) -> _Prepared:
        started = time.perf_counter()
        query = checked_query(query, self.settings)  # InvalidInput naming the field
        with trace.step("policy", guards=len(self.guards)):
            query = run_before(self.guards, query)
        try:
            lease = self.models.lease(query.model)  # the caller releases it when it ends
        except BaseException:
            run_settle(self.guards, query, None)
            raise
        try:
            return self._prepare_on(lease, query, started, trace)
        except BaseException:
            lease.release()
            run_settle(self.guards, query, None)
            raise

    def _prepare_on(self, lease: Lease, query: Query, started: float,
                    trace: Trace | NoTrace) -> _Prepared:
        prompt = query.prompt
        backend = lease.backend
        hits: list[MemoryHit] = []
        if query.memory and (query.raw or not self.settings.memory.enabled):
            query = replace(query, memory=False)  # no recall, nothing remembered
        if query.memory and self.settings.memory.top_k > 0:
            with trace.step("memory.recall", k=self.settings.memory.top_k) as recall:
                hits = self.memory.search(
                    query.agent_id,
                    prompt,
                    k=self.settings.memory.top_k,
                    user_id=query.user_id,
                    context=query.context,
                    relevant_only=True,  # nothing below the relevance floor is injected
                    # the last exchange's vector is not waited for: found by its text meanwhile
                    vectors_wait_s=self.settings.memory.recall_wait_s,
                )
                recall.recalled(hits)
        conversation = (
            query.messages
            if query.messages is not None
            else (*query.history, Message("user", prompt))
        )
        # the user's profile, recalled memories and the session's working memory, within
        # the token budget (the profile's lines first, in their share)
        budget, max_tokens = self.settings.memory.token_budget, (
            query.max_tokens or self.settings.generation.max_tokens)
        with trace.step("render", token_budget=budget) as render:
            profile = profile_block(self.profiles, query, count_tokens=backend.count_tokens,
                                    token_budget=budget,
                                    share=self.settings.memory.profile_share)
            messages, injected = self.working.render(
                query, conversation, hits, backend, token_budget=budget - profile.tokens,
                max_tokens=max_tokens)
            messages = profile.merged(messages, count_tokens=backend.count_tokens,
                                      max_context=backend.capabilities.max_context,
                                      max_tokens=max_tokens)
            render.set(messages=len(messages), memories_injected=len(injected))
        request = GenerationRequest(
            messages=() if query.raw else messages,
            prompt=prompt if query.raw else None,
            max_tokens=query.max_tokens or self.settings.generation.max_tokens,
            temperature=self.settings.generation.temperature
            if query.temperature is None
            else query.temperature,
            top_p=0.95 if query.top_p is None else query.top_p,
            stop=query.stop,
            extra=query.extra,
            # who it is for: router policies and cache keys read it; backends never send it
            context=query.context,
            cancellation=query.cancellation or self.new_cancellation(),
        )
        return _Prepared(query, backend, request, injected, started, lease, trace)

    def _finish(
        self,
        prep: _Prepared,
        text: str,
        usage: Usage,
        finish_reason: str,
        tool_calls: tuple[ToolCall, ...] = (),
        served_model: str | None = None,
        routed: RoutingResult | None = None,  # how a router / fallback chain found the model
        followups: Followups | None = None,  # what may wait until the answer is sent
    ) -> Answer:
        query = prep.query
        routing = routed.to_dict() if routed is not None else None
        model_name = (routing or {}).get("served_by") or served_model or prep.backend.name
        trace = prep.trace
        trace_id = trace.trace_id or new_id()  # a traced request's id is its spans' id
        stored: str | None = None
        cost_usd = cost_of(self.models, model_name, prep.backend, usage)
        if finish_reason == CANCELLED:  # the client went away: remember and record nothing
            trace.end()  # kept too: the request's steps up to here
            return Answer(answer=text, model=model_name, usage=usage,
                          latency_ms=(time.perf_counter() - prep.started) * 1000,
                          trace_id=trace_id, finish_reason=finish_reason,
                          memories=list(prep.hits), tool_calls=tool_calls, routing=routing,
                          cost_usd=cost_usd)
        if query.memory and text.strip():
            with trace.step("remember"):
                stored = remember_exchange(self.memory, self.working, self.turns, query, text,
                                           trace_id=trace_id, model=model_name)
        latency_ms = (time.perf_counter() - prep.started) * 1000
        rendered, _ = completion_prompt(prep.request)
        log.debug("interaction", extra={
            "trace_id": trace_id, "model": model_name, "latency_ms": round(latency_ms, 2),
            "completion_tokens": usage.completion_tokens, "memories_used": len(prep.hits)})
        answer = Answer(
            answer=text, model=model_name, usage=usage, latency_ms=latency_ms,
            trace_id=trace_id, finish_reason=finish_reason, memories=list(prep.hits),
            prompt=rendered, stored_memory_id=stored, tool_calls=tool_calls, routing=routing,
            annotations=query.annotations, cost_usd=cost_usd,
        )
        answer_attributes(trace, answer)
        interaction = Interaction(query=query, answer=answer, build_record=lambda: (
            interaction_record(query, text, usage, trace_id=trace_id, model=model_name,
                               rendered=rendered, latency_ms=latency_ms, hits=prep.hits,
                               stored=stored, routing=routing, cost_usd=cost_usd)))
        publish(self.sinks, interaction, trace, followups)  # and the trace ends
        return answer

    # -- entry points -------------------------------------------------------------------
    # Each holds the leased model until the request is done (a stream: until it ends or is
    # closed); the routing result comes on the generation / the final chunk.
    # A trace ends with the request: in _finish when it succeeds, on the way out if not.
    def run(self, query: Query) -> Answer:
        trace = trace_for(self.tracing, query)
        with trace.ending():  # a failure ends the trace with its error
            prep = self._prepare(query, trace)
            with prep.lease, Settlement(self.guards, prep.query) as done:
                with trace.step("model.generate", model=prep.backend.name) as call:
                    gen = prep.backend.generate(prep.request)
                    call.routed(gen.routing)
                text = self._check_output(prep, gen.text, final=True)
                return done(self._finish(prep, text, gen.usage, gen.finish_reason,
                                         gen.tool_calls, gen.model, gen.routing))

    async def arun(self, query: Query, *, followups: Followups | None = None) -> Answer:
        """`followups`: where to leave what may wait until the answer is sent (the guards'
        settling, the sinks marked `follows_answer`, the trace's end) for the caller to run
        then (cerebra/followups.py); without one, all of it is done before this returns."""
        trace = trace_for(self.tracing, query)
        with trace.ending():  # a failure ends the trace with its error
            prep = await self._aprepare(query, trace)
            async with prep.lease, Settlement(self.guards, prep.query, followups) as done:
                with trace.step("model.generate", model=prep.backend.name) as call:
                    gen = await prep.backend.agenerate(prep.request)
                    call.routed(gen.routing)
                text = self._check_output(prep, gen.text, final=True)
                return done(await self._afinish(
                    prep, text, gen.usage, gen.finish_reason, gen.tool_calls, gen.model,
                    gen.routing, followups,
                ))

    def run_stream(self, query: Query) -> Iterator[str | Answer]:
        """Yield text pieces as they are generated, then the final Answer. Output guards
        see each piece before it is yielded (OutputFilter): a refused one is never sent."""
        trace = trace_for(self.tracing, query)
        with trace.ending():  # a failure ends the trace with its error
            prep = self._prepare(query, trace)
            out = OutputFilter(self.guards, prep.query)
            last = StreamChunk("")
            stop = stop_on_refusal(prep.request.cancellation)
            with prep.lease, stop, Settlement(self.guards, prep.query) as done:
                with trace.step("model.stream", model=prep.backend.name) as call:
                    for chunk in prep.backend.stream(prep.request):
                        if chunk.text and (ready := out.feed(chunk.text)):
                            yield ready
                        last = chunk
                    rest, text = out.finish()
                    call.routed(last.routing)
                if rest:
                    yield rest
                answer = done(self._finish(
                    prep,
                    text,
                    last.usage or Usage(0, 0),
                    last.finish_reason or "stop",
                    last.tool_calls,
                    routed=last.routing,
                ))
        yield answer

    async def arun_stream(self, query: Query) -> AsyncIterator[str | Answer]:
        trace = trace_for(self.tracing, query)
        with trace.ending():  # a failure ends the trace with its error
            prep = await self._aprepare(query, trace)
            out = OutputFilter(self.guards, prep.query)
            last = StreamChunk("")
            async with prep.lease, Settlement(self.guards, prep.query) as done:
                with (stop_on_refusal(prep.request.cancellation),
                      trace.step("model.stream", model=prep.backend.name) as call):
                    async for chunk in prep.backend.astream(prep.request):
                        if chunk.text and (ready := out.feed(chunk.text)):
                            yield ready
                        last = chunk
                    rest, text = out.finish()
                    call.routed(last.routing)
                if rest:
                    yield rest
                answer = done(await self._afinish(
                    prep,
                    text,
                    last.usage or Usage(0, 0),
                    last.finish_reason or "stop",
                    last.tool_calls,
                    routed=last.routing,
                ))
        yield answer

    def _check_output(self, prep: _Prepared, text: str, *, final: bool) -> str:
        """Output guards on the text so far; one that raises Refused stops the answer, one
        that rewrites it (redaction, a disclaimer) changes what is returned."""
        if self.guards:
            with prep.trace.step("policy.output"):
                return run_on_output(self.guards, prep.query, text, final)
        return text

    async def _aprepare(self, query: Query, trace: Trace | NoTrace) -> _Prepared:
        if not (query.memory and self.settings.memory.enabled) or query.raw:  # nothing slow
            return self._prepare(query, trace)
        job = asyncio.ensure_future(self.offload.run(self._prepare, query, trace))
        try:
            return await asyncio.shield(job)
        except asyncio.CancelledError:  # the thread goes on: free what it will hold
            job.add_done_callback(self._abandon)
            raise

    def _abandon(self, job: asyncio.Future[_Prepared]) -> None:
        """A request cancelled while it was prepared in a thread: release its model and
        settle its guards with no answer."""
        if job.cancelled() or job.exception() is not None:
            return
        prep = job.result()
        prep.lease.release()
        run_settle(self.guards, prep.query, None)

    async def _afinish(
        self,
        prep: _Prepared,
        text: str,
        usage: Usage,
        finish_reason: str,
        tool_calls: tuple[ToolCall, ...],
        served_model: str | None = None,
        routed: RoutingResult | None = None,
        followups: Followups | None = None,
    ) -> Answer:
        if not prep.query.memory:
            return self._finish(prep, text, usage, finish_reason, tool_calls, served_model,
                                routed, followups)
        return await self.offload.run(
            self._finish, prep, text, usage, finish_reason, tool_calls, served_model, routed,
            followups,
        )

    # -- conveniences: a prompt with keyword options ---------------------------------------
    def ask(self, prompt: str, **options: Unpack[AskOptions]) -> Answer:
        """Ask once: `brain.ask("…", user_id=…, agent_id=…, model=…, memory=True)`, or with a
        whole `context=RequestContext(…)` (the id shortcuts refine it)."""
        return self.run(build_query(prompt, options))

    async def aask(self, prompt: str, **options: Unpack[AskOptions]) -> Answer:
        return await self.arun(build_query(prompt, options))

    def stream(self, prompt: str, **options: Unpack[AskOptions]) -> Iterator[str | Answer]:
        return self.run_stream(build_query(prompt, options))

    def astream(
        self, prompt: str, **options: Unpack[AskOptions]
    ) -> AsyncIterator[str | Answer]:
        return self.arun_stream(build_query(prompt, options))

    # -- feedback ---------------------------------------------------------------------------
    def feedback(
        self,
        trace_id: str,
        quality: float | None = None,
        comment: str | None = None,
        *,
        context: RequestContext | None = None,
        thumbs: bool | None = None,
        correction: str | None = None,
        label: str | None = None,
    ) -> dict[str, Any]:
        """Rate an answer (quality 0..1, higher is better; or thumbs up/down), once. The rating
        reaches the router that chose its model (the bandit learns) and the memories recalled
        for it (salience rises for good answers and falls for bad ones); it, a correction (the
        preferred answer) and a label (the answer's task) are also signals the
        self-improvement loop trains from: cerebra/feedback.py."""
        from cerebra.feedback import apply_feedback

        return apply_feedback(self.ledger, self.memory, self.router, trace_id, quality,
                              comment, context=context or RequestContext(), thumbs=thumbs,
                              correction=correction, label=label)

    def close(self) -> None:
        """Close the router, the sinks (the ledger flushes), the guards, the memory backend
        and the database; a second call does nothing."""
        if getattr(self, "_closed", False):
            return
        self._closed = True
        if self.jobs is not None:  # periodic jobs stop before what they work on closes
            self.jobs.close()
        if self.plugins is not None:  # the hot-reload watcher stops
            self.plugins.close()
        if self.router is not None:
            self.router.close()
        self.offload.close()  # requests' recall and storing finish first
        close_all(self.sinks)  # the ledger flushes here
        if self.tracing is not None:  # kept traces flush, the exporter sends what it holds
            self.tracing.close()
        close_guards(self.guards)  # e.g. the limits guard's Redis connection
        self.working.close()
        if self.memory.backfill is not None:  # pending vectors are filled first
            self.memory.backfill.close()
        self.memory.queries.close()
        self.memory.backend.close()
        self.engine.dispose()


"""Brain: the one orchestration path for library, server and CLI.

prompt → validate → embed + recall memories → render within a token budget → generate →
store the exchange as a memory → log the interaction → Answer (with trace id and memories).
Nothing is written unless generation succeeded.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from cerebra.config import Settings, get_settings
from cerebra.errors import InvalidInput
from cerebra.memory.base import MemoryHit
from cerebra.memory.store import MemoryStore, validate_text
from cerebra.models.base import GenerationRequest, Message, ModelBackend, StreamChunk, Usage
from cerebra.models.prompt_format import completion_prompt
from cerebra.models.registry import ModelRegistry
from cerebra.observability.ledger import InteractionRecord, Ledger
from cerebra.prompts.renderer import render_messages

log = logging.getLogger("cerebra.brain")


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
        }


@dataclass(frozen=True)
class _Prepared:
    backend: ModelBackend
    request: GenerationRequest
    hits: tuple[MemoryHit, ...]
    rendered: str
    started: float


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
        self.ledger = Ledger(engine)

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

    # -- the path -----------------------------------------------------------------------
    def _prepare(
        self,
        prompt: Any,
        *,
        history: Sequence[Message],
        user_id: str,
        agent_id: str,
        session_id: str,
        model: str | None,
        max_tokens: int | None,
        temperature: float | None,
        use_memory: bool,
        stop: Sequence[str] = (),
    ) -> _Prepared:
        started = time.perf_counter()
        prompt = validate_text(prompt, field="prompt", max_chars=self.settings.memory_max_chars)
        if max_tokens is not None and max_tokens < 1:
            raise InvalidInput("max_tokens must be at least 1", field="max_tokens")
        if temperature is not None and not 0.0 <= temperature <= 2.0:
            raise InvalidInput("temperature must be between 0 and 2", field="temperature")
        backend = self.models.get(model)
        hits: list[MemoryHit] = []
        if use_memory and self.settings.memory_top_k > 0:
            hits = self.memory.search(
                agent_id, prompt, k=self.settings.memory_top_k, user_id=user_id
            )
        rendered = render_messages(
            prompt,
            hits,
            count_tokens=backend.count_tokens,
            token_budget=self.settings.memory_token_budget,
            history=history,
        )
        request = GenerationRequest(
            messages=rendered.messages,
            max_tokens=max_tokens or self.settings.max_tokens,
            temperature=self.settings.temperature if temperature is None else temperature,
            stop=tuple(stop),
        )
        text, _ = completion_prompt(request)
        return _Prepared(backend, request, rendered.injected, text, started)

    def _finish(
        self,
        prep: _Prepared,
        prompt: str,
        text: str,
        usage: Usage,
        finish_reason: str,
        *,
        user_id: str,
        agent_id: str,
        session_id: str,
        use_memory: bool,
        endpoint: str,
    ) -> Answer:
        trace_id = uuid.uuid4().hex
        stored: str | None = None
        if use_memory and text.strip():
            stored = self.memory.add(
                agent_id,
                f"User: {prompt.strip()}\nAssistant: {text.strip()}",
                user_id=user_id,
                session_id=session_id,
                tags=["exchange"],
                source="exchange",
                metadata={"trace_id": trace_id, "model": prep.backend.name},
            )
        latency_ms = (time.perf_counter() - prep.started) * 1000
        memories_used = [{"id": h.memory.uid, "score": round(h.score, 6)} for h in prep.hits]
        try:
            self.ledger.record(
                InteractionRecord(
                    trace_id=trace_id,
                    tenant_id=self.memory.tenant_id,
                    endpoint=endpoint,
                    model=prep.backend.name,
                    prompt=prompt,
                    rendered_prompt=prep.rendered,
                    response=text,
                    prompt_tokens=usage.prompt_tokens,
                    completion_tokens=usage.completion_tokens,
                    latency_ms=latency_ms,
                    memories_used=memories_used,
                    stored_memory_uid=stored,
                    user_id=user_id,
                    agent_id=agent_id,
                    session_id=session_id,
                )
            )
        except Exception:
            if stored is not None:  # keep the two writes all-or-nothing
                self.memory.delete(stored)
            raise
        log.info(
            "interaction",
            extra={
                "trace_id": trace_id,
                "model": prep.backend.name,
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "latency_ms": round(latency_ms, 2),
                "memories_used": len(prep.hits),
            },
        )
        return Answer(
            answer=text,
            model=prep.backend.name,
            usage=usage,
            latency_ms=latency_ms,
            trace_id=trace_id,
            finish_reason=finish_reason,
            memories=list(prep.hits),
            prompt=prep.rendered,
            stored_memory_id=stored,
        )

    # -- entry points -------------------------------------------------------------------
    def ask(
        self,
        prompt: Any,
        *,
        history: Sequence[Message] = (),
        user_id: str = "",
        agent_id: str = "",
        session_id: str = "",
        model: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        memory: bool = True,
        stop: Sequence[str] = (),
        endpoint: str = "library",
    ) -> Answer:
        scope = {"user_id": user_id, "agent_id": agent_id, "session_id": session_id}
        prep = self._prepare(
            prompt,
            history=history,
            model=model,
            max_tokens=max_tokens,
            temperature=temperature,
            use_memory=memory,
            stop=stop,
            **scope,
        )
        gen = prep.backend.generate(prep.request)
        return self._finish(
            prep,
            prompt,
            gen.text,
            gen.usage,
            gen.finish_reason,
            use_memory=memory,
            endpoint=endpoint,
            **scope,
        )

    async def aask(self, prompt: Any, **kwargs: Any) -> Answer:
        kwargs.setdefault("endpoint", "library")
        finish_args, prep_args = _split(kwargs)
        prep = await asyncio.to_thread(lambda: self._prepare(prompt, **prep_args))
        gen = await prep.backend.agenerate(prep.request)
        return await asyncio.to_thread(
            lambda: self._finish(
                prep, prompt, gen.text, gen.usage, gen.finish_reason, **finish_args
            )
        )

    def stream(self, prompt: Any, **kwargs: Any) -> Iterator[str | Answer]:
        """Yield text pieces as they are generated, then the final Answer."""
        kwargs.setdefault("endpoint", "library")
        finish_args, prep_args = _split(kwargs)
        prep = self._prepare(prompt, **prep_args)
        pieces: list[str] = []
        last = StreamChunk("")
        for chunk in prep.backend.stream(prep.request):
            if chunk.text:
                pieces.append(chunk.text)
                yield chunk.text
            last = chunk
        usage = last.usage or Usage(0, 0)
        yield self._finish(
            prep, prompt, "".join(pieces), usage, last.finish_reason or "stop", **finish_args
        )

    async def astream(self, prompt: Any, **kwargs: Any) -> AsyncIterator[str | Answer]:
        kwargs.setdefault("endpoint", "library")
        finish_args, prep_args = _split(kwargs)
        prep = await asyncio.to_thread(lambda: self._prepare(prompt, **prep_args))
        pieces: list[str] = []
        last = StreamChunk("")
        async for chunk in prep.backend.astream(prep.request):
            if chunk.text:
                pieces.append(chunk.text)
                yield chunk.text
            last = chunk
        usage = last.usage or Usage(0, 0)
        yield await asyncio.to_thread(
            lambda: self._finish(
                prep, prompt, "".join(pieces), usage, last.finish_reason or "stop", **finish_args
            )
        )

    def close(self) -> None:
        self.memory.backend.close()
        self.engine.dispose()


_SCOPE_KEYS = ("user_id", "agent_id", "session_id")


def _split(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Keyword arguments of ask() as (for _finish, for _prepare)."""
    scope = {k: kwargs.get(k, "") for k in _SCOPE_KEYS}
    use_memory = kwargs.get("memory", True)
    finish = {**scope, "use_memory": use_memory, "endpoint": kwargs.get("endpoint", "library")}
    prepare = {
        **scope,
        "history": kwargs.get("history", ()),
        "model": kwargs.get("model"),
        "max_tokens": kwargs.get("max_tokens"),
        "temperature": kwargs.get("temperature"),
        "use_memory": use_memory,
        "stop": kwargs.get("stop", ()),
    }
    unknown = set(kwargs) - {
        *_SCOPE_KEYS,
        "memory",
        "endpoint",
        "history",
        "model",
        "max_tokens",
        "temperature",
        "stop",
    }
    if unknown:
        raise TypeError(f"unexpected arguments: {', '.join(sorted(unknown))}")
    return finish, prepare

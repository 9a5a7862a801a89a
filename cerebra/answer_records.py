"""What an answered prompt leaves behind, built for `Brain._finish`: the exchange remembered
(a long-term memory carrying its conversation structure, and the session's working memory)
and the ledger's interaction record (with the answer's cost)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cerebra.errors import CerebraError
from cerebra.exchange import Query
from cerebra.memory.base import MemoryHit
from cerebra.memory.store import MemoryStore
from cerebra.memory.turns import TurnCounter
from cerebra.memory.working_session import Workspace
from cerebra.models.base import ModelBackend, Usage
from cerebra.models.registry import ModelRegistry
from cerebra.observability.ledger import InteractionRecord


def remember_exchange(memory: MemoryStore, working: Workspace, turns: TurnCounter,
                      query: Query, text: str, *, trace_id: str, model: str) -> str:
    """Store the exchange as a long-term memory (its vector after the answer where
    write-behind is on) and append it to the session's working memory; its memory id."""
    stored = memory.add(
        query.agent_id,
        f"User: {query.prompt.strip()}\nAssistant: {text.strip()}",
        user_id=query.user_id,
        session_id=query.session_id,
        tags=["exchange"],
        source="exchange",
        context=query.context,
        vectors_later=True,  # with write-behind on, the vector follows the answer
        metadata={
            "trace_id": trace_id,
            "model": model,
            # conversation structure: neighbouring-turn, session and speaker signals
            "session": query.session_id,
            "turn": turns.next(query.context),
            "speaker": query.user_id or "user",
        },
    )
    working.remember(query.context, query.prompt, text, memory_id=stored, trace_id=trace_id)
    return stored


def interaction_record(query: Query, text: str, usage: Usage, *, trace_id: str, model: str,
                       rendered: str, latency_ms: float, hits: Sequence[MemoryHit],
                       stored: str | None, routing: dict[str, Any] | None,
                       cost_usd: float) -> InteractionRecord:
    """The ledger's row for one answer."""
    return InteractionRecord(
        trace_id=trace_id,
        tenant_id=query.tenant_id,
        endpoint=query.endpoint,
        model=model,
        prompt=query.prompt,
        rendered_prompt=rendered,
        response=text,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        latency_ms=latency_ms,
        memories_used=[{"id": h.memory.uid, "score": round(h.score, 6)} for h in hits],
        stored_memory_uid=stored,
        user_id=query.user_id,
        agent_id=query.agent_id,
        session_id=query.session_id,
        decision_id=(routing or {}).get("decision_id"),
        cost_usd=cost_usd,
        credential_id=(query.context.principal.credential_id
                       if query.context.principal is not None else ""),
    )


def cost_of(models: ModelRegistry, model_name: str, backend: ModelBackend,
            usage: Usage) -> float:
    """USD of `usage` at the serving model's price (the registry's model of that name, else
    the backend asked)."""
    try:
        caps = (models.get(model_name) if model_name in models else backend).capabilities
    except CerebraError:  # out of rotation since it answered
        caps = backend.capabilities
    return caps.cost(usage)

"""What the Brain's trace says about the request as a whole: the decision taken for it (the
entry point's, else the Brain's) with who it is for, and its outcome (model, tokens, cost,
finish reason) — on the root span, only for a sampled request."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cerebra.observability.trace_store import AGENT, MODEL, TENANT, USER
from cerebra.observability.tracing import NO_TRACE, Attr, NoTrace, Trace, Tracing

if TYPE_CHECKING:
    from cerebra.exchange import Answer, Query


def trace_for(tracing: Tracing | None, query: Query) -> Trace | NoTrace:
    """The request's trace: the entry point's decision (Query.trace), else the Brain's, made
    now; who it is for on its root (set at the start: a refused request's trace is kept
    under its tenant too)."""
    trace = query.trace
    if trace is None:
        trace = NO_TRACE if tracing is None else tracing.begin(query.endpoint)
    if trace.sampled:
        who: dict[str, Attr] = {TENANT: query.tenant_id, USER: query.user_id,
                                AGENT: query.agent_id, "cerebra.endpoint": query.endpoint}
        trace.set(**who)
    return trace


def answer_attributes(trace: Trace | NoTrace, answer: Answer) -> None:
    """The outcome on the root: model, tokens, cost, memories used, finish reason."""
    if trace.sampled:
        outcome: dict[str, Attr] = {
            MODEL: answer.model, "gen_ai.usage.input_tokens": answer.usage.prompt_tokens,
            "gen_ai.usage.output_tokens": answer.usage.completion_tokens,
            "cerebra.cost_usd": answer.cost_usd, "cerebra.finish_reason": answer.finish_reason,
            "cerebra.memories_used": len(answer.memories)}
        trace.set(**outcome)

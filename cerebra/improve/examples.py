"""Training examples from signals: the tenant's signals and the interactions they point at
become SFT rows and preference pairs (cerebra.improve.rows), each with its source, trace id
and task (lineage). `training_examples` is re-exported by cerebra.improve.signals.

The prompt of a row is the user's prompt as the ledger keeps it (`interactions.prompt`), not
the rendered prompt with recalled memories and persona: a model is trained on what a user
asks, and recall adds the same context at serving time.

Per trace, the ratings (score, thumbs, checker) and corrections compete, and the most
trusted wins, the latest among equals:
- a correction wins → SFT (prompt, correction) and the pair (correction ≻ the answer);
- a rating ≥ min_score wins → SFT (prompt, answer);
- a rating below min_score wins and the trace has a correction → as a correction winning;
- otherwise the trace gives nothing.
Judge verdicts between traces of the same prompt give pairs (the winner's answer ≻ each
other's), RLAIF signals give their pair as labelled.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Engine, select

from cerebra.context import RequestContext
from cerebra.db.improve_tables import signals
from cerebra.db.schema import interactions
from cerebra.improve.rows import PrefPair, SftRow

RATINGS = ("score", "thumbs", "checker")


def training_examples(engine: Engine, context: RequestContext, *, task: str | None = None,
                      since: float | None = None, min_score: float = 0.5,
                      ) -> tuple[list[SftRow], list[PrefPair]]:
    """(SFT rows, preference pairs) from the tenant's signals (of `task`, since `since`)."""
    query = select(signals).where(signals.c.tenant_id == context.tenant_id)
    if task is not None:
        query = query.where(signals.c.task == task)
    if since is not None:
        query = query.where(signals.c.created_at >= since)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(
            query.order_by(signals.c.created_at, signals.c.id))]
    by_trace: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_trace[row["trace_id"]].append(row)
    traces = set(by_trace)
    for row in rows:
        if row["kind"] == "judge":
            traces.update(t for t in (row["payload"] or {}).get("traces", {}).values() if t)
    answers = interactions_of(engine, context, sorted(traces))
    sft: dict[tuple[str, str], SftRow] = {}
    pairs: dict[tuple[str, str, str], PrefPair] = {}
    for trace_id, sigs in by_trace.items():
        answer = answers.get(trace_id)
        if answer is not None:
            _from_trace(answer, sigs, min_score, sft, pairs)
    _from_judges(rows, answers, pairs)
    for row in rows:
        payload = row["payload"] or {}
        if row["kind"] == "rlaif" and {"prompt", "chosen", "rejected"} <= set(payload):
            _add_pair(pairs, PrefPair(payload["prompt"], payload["chosen"], payload["rejected"],
                                      row["source"], row["trace_id"], row["task"]))
    return list(sft.values()), list(pairs.values())


def interactions_of(engine: Engine, context: RequestContext,
                    trace_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """trace id → {trace_id, prompt, response, model} of the tenant's interactions."""
    cols = (interactions.c.trace_id, interactions.c.prompt, interactions.c.response,
            interactions.c.model)
    out: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:
        for start in range(0, len(trace_ids), 500):
            chunk = list(trace_ids[start:start + 500])
            found = conn.execute(select(*cols).where(
                interactions.c.tenant_id == context.tenant_id,
                interactions.c.trace_id.in_(chunk)))
            out.update({r.trace_id: dict(r._mapping) for r in found})
    return out


def _winner(sigs: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The most trusted signal, the latest among equals (sigs are in time order)."""
    best = None
    for s in sigs:
        if best is None or s["trust"] >= best["trust"]:
            best = s
    return best


def _from_trace(answer: Mapping[str, Any], sigs: Sequence[Mapping[str, Any]],
                min_score: float, sft: dict[tuple[str, str], SftRow],
                pairs: dict[tuple[str, str, str], PrefPair]) -> None:
    prompt, response, trace_id = answer["prompt"], answer["response"], answer["trace_id"]
    task = next((s["task"] for s in reversed(sigs) if s["task"]), None)
    corrections = [s for s in sigs if s["kind"] == "correction" and (s["text"] or "").strip()]
    top = _winner([s for s in sigs if (s["kind"] in RATINGS and s["value"] is not None)
                   or s in corrections])  # in time order
    if top is None:
        return
    if top["kind"] != "correction" and top["value"] >= min_score:
        _add_sft(sft, SftRow(prompt, response, top["source"], trace_id, task))
        return
    correction = _winner(corrections)
    if correction is None:
        return
    _add_sft(sft, SftRow(prompt, correction["text"], correction["source"], trace_id, task))
    if correction["text"].strip() != response.strip():
        _add_pair(pairs, PrefPair(prompt, correction["text"], response, correction["source"],
                                  trace_id, task))


def _from_judges(rows: Sequence[Mapping[str, Any]], answers: Mapping[str, Mapping[str, Any]],
                 pairs: dict[tuple[str, str, str], PrefPair]) -> None:
    """Each verdict (a group of judge signals) with a winner: its answer ≻ each other
    judged answer to the same prompt."""
    seen: set[str] = set()
    for row in rows:
        payload = row["payload"] or {}
        group, winner = payload.get("group"), payload.get("winner")
        if row["kind"] != "judge" or not group or group in seen or winner is None:
            continue
        seen.add(group)
        traces: Mapping[str, str] = payload.get("traces", {})
        best = answers.get(traces.get(winner, ""))
        if best is None:
            continue
        for contestant, trace_id in traces.items():
            other = answers.get(trace_id)
            if contestant == winner or other is None:
                continue
            if (other["prompt"].strip() != best["prompt"].strip()
                    or other["response"].strip() == best["response"].strip()):
                continue
            _add_pair(pairs, PrefPair(best["prompt"], best["response"], other["response"],
                                      row["source"], best["trace_id"], row["task"]))


def _add_sft(out: dict[tuple[str, str], SftRow], row: SftRow) -> None:
    out.setdefault((row.prompt, row.completion), row)


def _add_pair(out: dict[tuple[str, str, str], PrefPair], pair: PrefPair) -> None:
    out.setdefault((pair.prompt, pair.chosen, pair.rejected), pair)

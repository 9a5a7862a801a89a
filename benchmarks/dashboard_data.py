"""Bulk data for the dashboard benchmark: a deployment's worth of rows written fast.

Interactions go in with executemany in large transactions, each transaction also folding its
rows into the cost rollups through the ledger's own rollup code (so rollups and rows agree as
they do when the ledger writes them); kept traces with their spans, log records, audit
events and memories are written beside them. Everything is seeded (same data every run);
ids grow with time, as they do in a live database.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, insert

from cerebra.db.log_tables import log_records
from cerebra.db.schema import interactions, router_decisions
from cerebra.db.trace_tables import trace_spans, traces
from cerebra.observability import costs_rollup

DAY = 86_400.0
# model -> (share of requests, $ per million prompt tokens, $ per million completion tokens)
MODELS = {"gemma-3-270m": (0.35, 0.0, 0.0), "smollm2-135m": (0.2, 0.0, 0.0),
          "gpt-4o-mini": (0.2, 0.15, 0.6), "gpt-4o": (0.1, 2.5, 10.0),
          "claude-sonnet": (0.1, 3.0, 15.0), "claude-haiku": (0.05, 0.8, 4.0)}
TOPICS = ("billing", "shipping", "refunds", "accounts", "outages", "pricing", "returns")
SPANS = ("auth", "policy", "memory.recall", "render", "route", "model", "audit", "remember")
CHUNK = 50_000


@dataclass
class Built:
    interactions: int = 0
    decisions: int = 0
    traces: int = 0
    spans: int = 0
    logs: int = 0
    audit: int = 0
    memories: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    sample_trace_ids: list[str] = field(default_factory=list)  # kept traces, tenant default


def _interaction(i: int, ts: float, rng: random.Random, tenant: str) -> dict[str, Any]:
    names = list(MODELS)
    model = rng.choices(names, weights=[MODELS[m][0] for m in names])[0]
    _, p_in, p_out = MODELS[model]
    prompt_tokens, completion_tokens = rng.randint(20, 1500), rng.randint(5, 600)
    quality = round(rng.random(), 3) if rng.random() < 0.1 else None
    topic = TOPICS[i % len(TOPICS)]
    return {
        "trace_id": f"{i:032x}", "tenant_id": tenant, "user_id": f"user-{rng.randrange(2000)}",
        "agent_id": rng.choice(("support", "research", "sales", "ops", "")),
        "session_id": f"s-{rng.randrange(50_000)}", "endpoint": rng.choice(("api", "openai")),
        "model": model, "prompt": f"question {i} about {topic}: what should I do next?",
        "rendered_prompt": "", "response": f"an answer about {topic}",
        "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
        "latency_ms": rng.lognormvariate(5.5, 0.6), "memories_used": [],
        "stored_memory_uid": None, "created_at": ts, "decision_id": f"d{i:031x}",
        "quality": quality, "feedback_at": ts + 60 if quality is not None else None,
        "feedback_comment": None,
        "cost_usd": (prompt_tokens * p_in + completion_tokens * p_out) / 1e6,
        "credential_id": f"key_{rng.randrange(50):04d}",
    }


def _decision(row: dict[str, Any]) -> dict[str, Any]:
    """The router's decision that chose the interaction's model (linked by decision_id)."""
    return {"id": row["decision_id"], "tenant_id": row["tenant_id"], "agent_id": row["agent_id"],
            "scope": row["agent_id"] or "*", "created_at": row["created_at"],
            "strategy": "thompson", "arm": row["model"], "served_by": row["model"],
            "reason": "sampled the highest posterior draw", "features": {},
            "candidates": list(MODELS), "ok": True, "error": "",
            "attempts": [{"backend": row["model"], "ok": True, "latency_ms": row["latency_ms"],
                          "error": "", "waited_s": 0.0}],
            "latency_ms": row["latency_ms"], "cost_usd": row["cost_usd"],
            "prompt_tokens": row["prompt_tokens"],
            "completion_tokens": row["completion_tokens"], "quality": row["quality"],
            "reward": row["quality"]}


def _trace(row: dict[str, Any], rng: random.Random) -> tuple[dict[str, Any], list[dict]]:
    trace_id, start = row["trace_id"], row["created_at"]
    spans, offset = [], 0.0
    root = f"{rng.getrandbits(64):016x}"
    total = row["latency_ms"]
    spans.append({"trace_id": trace_id, "span_id": root, "tenant_id": row["tenant_id"],
                  "parent_id": None, "name": row["endpoint"], "start_ms": 0.0,
                  "duration_ms": total, "status": "ok", "attributes": {}})
    for name in SPANS:
        duration = total * (0.7 if name == "model" else 0.04)
        spans.append({"trace_id": trace_id, "span_id": f"{rng.getrandbits(64):016x}",
                      "tenant_id": row["tenant_id"], "parent_id": root, "name": name,
                      "start_ms": offset, "duration_ms": duration, "status": "ok",
                      "attributes": {"cerebra.model": row["model"]} if name == "model"
                      else {}})
        offset += duration
    head = {"trace_id": trace_id, "tenant_id": row["tenant_id"], "user_id": row["user_id"],
            "agent_id": row["agent_id"], "name": row["endpoint"], "model": row["model"],
            "started_at": start, "duration_ms": total, "span_count": len(spans),
            "status": "ok"}
    return head, spans


def write_interactions(engine: Engine, rows: int, *, days: float, now: float, seed: int,
                       trace_every: int, trace_days: float, built: Built,
                       progress: Callable[[str], None]) -> None:
    """`rows` interactions spread evenly over the last `days` (90 % tenant "default"), with
    their rollups and routing decisions; every `trace_every`-th one of the last `trace_days`
    kept as a trace."""
    rng = random.Random(seed)
    start = time.perf_counter()
    first = now - days * DAY
    step = days * DAY / rows
    for base in range(0, rows, CHUNK):
        batch = [_interaction(i, first + i * step, rng,
                              "other" if rng.random() < 0.1 else "default")
                 for i in range(base, min(rows, base + CHUNK))]
        kept = [r for r in batch if r["created_at"] >= now - trace_days * DAY
                and int(r["trace_id"], 16) % trace_every == 0]
        heads, spans = [], []
        for row in kept:
            head, tree = _trace(row, rng)
            heads.append(head)
            spans.extend(tree)
        with engine.begin() as conn:
            conn.execute(insert(interactions), batch)
            conn.execute(insert(router_decisions), [_decision(r) for r in batch])
            costs_rollup.add_interactions(conn, batch)
            if heads:
                conn.execute(insert(traces), heads)
                conn.execute(insert(trace_spans), spans)
        built.interactions += len(batch)
        built.decisions += len(batch)
        built.traces += len(heads)
        built.spans += len(spans)
        built.sample_trace_ids.extend(h["trace_id"] for h in heads[-5:]
                                      if h["tenant_id"] == "default")
        if (base // CHUNK) % 4 == 3:
            progress(f"{built.interactions:,} interactions")
    built.seconds["interactions"] = time.perf_counter() - start


def write_logs(engine: Engine, count: int, *, now: float, seed: int, built: Built) -> None:
    """`count` log records over the last day: mostly INFO, some warnings and errors, a third
    of them system lines (no tenant)."""
    rng = random.Random(seed + 1)
    start = time.perf_counter()
    loggers = ("cerebra.server", "cerebra.ledger", "cerebra.router", "cerebra.memory",
               "uvicorn.error")
    rows = []
    for i in range(count):
        level = rng.choices((20, 30, 40), weights=(85, 12, 3))[0]
        tenant = rng.choice(("default", "default", "other", None))
        rows.append({"ts": now - DAY + i * DAY / count, "level": level,
                     "logger": rng.choice(loggers), "event": f"event {i}: request handled",
                     "trace_id": f"{rng.getrandbits(128):032x}" if tenant else None,
                     "tenant_id": tenant, "fields": json.dumps({"n": i})})
    with engine.begin() as conn:
        for base in range(0, count, CHUNK):
            conn.execute(insert(log_records), rows[base:base + CHUNK])
    built.logs = count
    built.seconds["logs"] = time.perf_counter() - start


def write_audit(audit: Any, count: int, *, now: float, built: Built) -> None:
    """`count` audit events through the audit log itself (hash chain, batches)."""
    from cerebra.governance.audit import AuditEvent

    start = time.perf_counter()
    for i in range(count):
        audit.record(AuditEvent(action="request", actor=f"key_{i % 50:04d}",
                                target=f"{i:032x}", tenant_id="default",
                                time=now - DAY + i * DAY / count, trace_id=f"{i:032x}"))
    audit.flush(timeout=600)
    built.audit = count
    built.seconds["audit"] = time.perf_counter() - start


def write_memories(store: Any, count: int, *, built: Built) -> None:
    start = time.perf_counter()
    for base in range(0, count, 1000):
        items = [{"text": f"memory {i}: the customer asked about {TOPICS[i % len(TOPICS)]}",
                  "tags": [TOPICS[i % len(TOPICS)]]}
                 for i in range(base, min(count, base + 1000))]
        store.add_many("support", items, user_id="user-1")
    built.memories = count
    built.seconds["memories"] = time.perf_counter() - start

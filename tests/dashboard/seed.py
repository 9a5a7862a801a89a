"""Data the dashboard tests look at, put in through the app's own APIs: memories over several
pages, answered queries (with their traces and costs), a month of priced interactions from
several users, keys, agents and models, a finished training job with a loss curve, a job a
test paces step by step, and a drift alert once the drift API is there."""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from cerebra.jobs.base import JobContext, JobRunner
from cerebra.observability.ledger import InteractionRecord

TENANT = "default"
MODELS = {"fake-small": (0.5, 1.5), "fake-large": (10.0, 30.0)}  # $ per million in/out
CATALOG = [
    {"name": "fake-small", "kind": "fake", "default": True,
     "price": {"input_per_mtok": 0.5, "output_per_mtok": 1.5},
     "options": {"reply": "Paris is the capital of France, as you told me before."}},
    {"name": "fake-large", "kind": "fake",
     "price": {"input_per_mtok": 10.0, "output_per_mtok": 30.0},
     "options": {"reply": "A longer, costlier answer from the large model."}},
]
MEMORY_PAGES = {"support": 25, "research": 15, "": 10}  # agent -> memories (50 in all)
HISTORY_DAYS = 30
PER_DAY = 40
SLOW_FROM_DAY = 1  # the last day answers slower: a latency drift for the drift pages
DAY = 86_400.0


@dataclass
class Seeded:
    """What the seed put in, for tests to look for."""

    memory_ids: list[str] = field(default_factory=list)
    trace_ids: list[str] = field(default_factory=list)  # answered through POST /api/llm/query
    history: int = 0  # interactions recorded through the ledger over HISTORY_DAYS
    history_cost: float = 0.0
    job_id: str = ""  # a finished job that reported a loss curve
    drift_alerts: list[dict[str, Any]] | None = None  # None: this build has no drift API


def seed_memories(client: httpx.Client) -> list[str]:
    ids: list[str] = []
    for agent, count in MEMORY_PAGES.items():
        items = [{"text": f"Note {i + 1} for {agent or 'everyone'}: the customer in order "
                          f"#{1000 + i} asked about {('billing', 'shipping', 'refunds')[i % 3]}",
                  "tags": [("billing", "shipping", "refunds")[i % 3]],
                  "importance": round(0.3 + 0.6 * (i % 5) / 4, 2)} for i in range(count)]
        answer = client.post("/api/memory/batch", json={"agent_id": agent, "user_id": "ada",
                                                        "items": items})
        answer.raise_for_status()
        ids.extend(answer.json()["ids"])
    return ids


def seed_queries(client: httpx.Client) -> list[str]:
    prompts = [("What is the capital of France?", "fake-small", "ada", "support"),
               ("Summarise my last order", "fake-large", "bo", "support"),
               ("Where does the customer live?", "fake-small", "ada", "research"),
               ("Draft a reply about refunds", "fake-large", "cy", "")]
    traces = []
    for prompt, model, user, agent in prompts:
        answer = client.post("/api/llm/query", json={"prompt": prompt, "model": model,
                                                 "user_id": user, "agent_id": agent})
        answer.raise_for_status()
        traces.append(answer.json()["trace_id"])
    return traces


def seed_history(ledger: Any, now: float | None = None, seed: int = 13) -> tuple[int, float]:
    """A month of priced interactions with a weekly rhythm, recorded through the ledger's own
    write path (so whatever it keeps beside the rows, rollups included, is kept too); the
    last day's answers are slower (a drift the detector's default windows see)."""
    rng = random.Random(seed)
    now = time.time() if now is None else now
    count, total = 0, 0.0
    for day in range(HISTORY_DAYS, 0, -1):
        weekday_factor = 1.0 + 0.5 * math.sin(2 * math.pi * day / 7)
        for n in range(round(PER_DAY * weekday_factor)):
            model = "fake-large" if rng.random() < 0.3 else "fake-small"
            p_in, p_out = MODELS[model]
            prompt_tokens, completion_tokens = rng.randint(20, 400), rng.randint(10, 300)
            cost = (prompt_tokens * p_in + completion_tokens * p_out) / 1e6
            latency = rng.uniform(900, 1500) if day <= SLOW_FROM_DAY else rng.uniform(40, 400)
            ledger.record(InteractionRecord(
                trace_id=f"seed-{day:02d}-{n:03d}", tenant_id=TENANT, endpoint="api",
                model=model, prompt=f"seeded question {n} of day -{day}", rendered_prompt="",
                response="seeded answer", prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens, latency_ms=latency,
                user_id=rng.choice(("ada", "bo", "cy")), agent_id=rng.choice(("support",
                                                                             "research", "")),
                created_at=now - day * DAY + rng.uniform(0, DAY - 1), cost_usd=cost,
                credential_id=rng.choice(("key_seed_a", "key_seed_b"))))
            count, total = count + 1, total + cost
    ledger.flush()
    return count, total


def _loss_curve(ctx: JobContext, steps: int) -> dict[str, Any]:
    for step in range(1, steps + 1):
        ctx.report(step=step, total=steps, loss=round(2.5 * math.exp(-step / 4) + 0.1, 4),
                   message=f"step {step}/{steps}")
    return {"steps": steps, "final_loss": round(2.5 * math.exp(-steps / 4) + 0.1, 4)}


def seed_job(runner: JobRunner) -> str:
    job_id = runner.submit("train support-lora (seeded)", _loss_curve, (12,), tenant_id=TENANT)
    runner.join(job_id, timeout=30)
    return job_id


class PacedJob:
    """A training-like job that takes one step each time the test calls `advance()`:
    progress, step, total, loss and ETA reported per step, so a page can be watched updating
    without a sleep or a reload."""

    def __init__(self, runner: JobRunner, steps: int = 5, name: str = "train paced-lora") -> None:
        self.steps = steps
        self._go = threading.Semaphore(0)
        self.job_id = runner.submit(name, self._run, tenant_id=TENANT)
        self.runner = runner

    def _run(self, ctx: JobContext) -> dict[str, Any]:
        for step in range(1, self.steps + 1):
            while not self._go.acquire(timeout=0.1):
                ctx.check()  # cancelled: stop
            ctx.report(step=step, total=self.steps, loss=round(2.0 / step, 4),
                       eta_s=float(self.steps - step), message=f"step {step}/{self.steps}")
        return {"steps": self.steps, "final_loss": round(2.0 / self.steps, 4)}

    def advance(self, steps: int = 1) -> None:
        for _ in range(steps):
            self._go.release()

    def finish(self, timeout: float = 30) -> Any:
        self.advance(self.steps)
        return self.runner.join(self.job_id, timeout=timeout)


def seed_drift(client: httpx.Client, routes: set[str]) -> list[dict[str, Any]] | None:
    """Run the drift detector over the seeded month and return its alerts; None when this
    build has no drift API yet."""
    if "/api/drift/check" not in routes:
        return None
    client.post("/api/drift/check").raise_for_status()
    answer = client.get("/api/drift/alerts")
    answer.raise_for_status()
    alerts: list[dict[str, Any]] = answer.json()["alerts"]
    return alerts

"""Helpers of the cost ledger's tests: seeded interaction records spread over tenants, days,
models, keys, users and agents, and the rollups as a direct GROUP BY over the interactions
(SQL of its own: the day from the database's date functions, not the ledger's Python)."""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

from sqlalchemy import Engine, select, text

from cerebra.db.cost_tables import cost_rollups
from cerebra.observability.ledger import InteractionRecord

DAY = 86400.0
T0 = 1_790_000_000.0  # 2026-09-21, a UTC day's middle-ish


def records(n: int, seed: int = 0, *, tenants: tuple[str, ...] = ("default",),
            days: int = 5, start: float = T0) -> list[InteractionRecord]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        prompt, completion = rng.randint(1, 400), rng.randint(1, 200)
        model = rng.choice(["big", "small", "mid"])
        price = {"big": 3e-5, "small": 1e-6, "mid": 5e-6}[model]
        out.append(InteractionRecord(
            trace_id=uuid.uuid4().hex, tenant_id=rng.choice(tenants), endpoint="query",
            model=model, prompt="p", rendered_prompt="p", response="r",
            prompt_tokens=prompt, completion_tokens=completion, latency_ms=1.0,
            user_id=rng.choice(["", "ana", "bo"]), agent_id=rng.choice(["", "scout"]),
            credential_id=rng.choice(["", "k1", "k2"]),
            created_at=start + rng.uniform(0, days * DAY),
            cost_usd=price * (prompt + completion)))
    return out


_DIMS = {"total": "''", "model": "model", "key": "credential_id", "user": "user_id",
         "agent": "agent_id"}


def direct(engine: Engine) -> dict[tuple[str, str, str, str], tuple[float, ...]]:
    """The rollups computed from scratch with GROUP BY over the interactions."""
    day = ("to_char(to_timestamp(created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
           if engine.dialect.name == "postgresql"
           else "strftime('%Y-%m-%d', created_at, 'unixepoch')")
    out: dict[tuple[str, str, str, str], tuple[float, ...]] = {}
    with engine.connect() as conn:
        for dim, col in _DIMS.items():
            rows = conn.execute(text(
                f"SELECT tenant_id, {day} AS d, {col} AS k, SUM(cost_usd), COUNT(*),"
                " SUM(prompt_tokens), SUM(completion_tokens), COUNT(quality),"
                " COALESCE(SUM(quality), 0) FROM interactions"
                f" GROUP BY tenant_id, {day}" + ("" if dim == "total" else f", {col}")))
            for t, d, k, *sums in rows:
                out[(t, d, dim, k)] = _rounded(sums)
    return out


def rolled(engine: Engine) -> dict[tuple[str, str, str, str], tuple[float, ...]]:
    r = cost_rollups.c
    with engine.connect() as conn:
        rows = conn.execute(select(r.tenant_id, r.day, r.dim, r.key, r.cost, r.requests,
                                   r.prompt_tokens, r.completion_tokens, r.feedback_n,
                                   r.feedback_sum))
        return {(t, d, dim, k): _rounded(sums) for t, d, dim, k, *sums in rows}


def _rounded(values: Any) -> tuple[float, ...]:
    return tuple(round(float(v), 9) for v in values)


class Receiver:
    """A local webhook receiver speaking plain HTTP: records each POST (headers, JSON body)
    and answers `status`; while `hold` is clear it does not answer at all (a hung server)."""

    def __init__(self, status: int = 200) -> None:
        import http.server
        import threading

        self.status = status
        self.posts: list[tuple[dict[str, str], dict[str, Any], bytes]] = []
        self.hold = threading.Event()
        self.hold.set()
        self._cond = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver._cond:
                    receiver.posts.append((dict(self.headers), json.loads(raw), raw))
                    receiver._cond.notify_all()
                receiver.hold.wait(30)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def wait_for(self, n: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """The JSON bodies, once at least `n` have arrived (a safety net, not a sync)."""
        with self._cond:
            self._cond.wait_for(lambda: len(self.posts) >= n, timeout)
            return [body for _, body, _ in self.posts]

    def close(self) -> None:
        self.hold.set()
        self.server.shutdown()
        self.server.server_close()


def spend(amount: float, *, at: float, tenant: str = "default", credential: str = "",
          user: str = "", model: str = "big") -> InteractionRecord:
    """One interaction that cost `amount` USD at time `at`."""
    return InteractionRecord(
        trace_id=uuid.uuid4().hex, tenant_id=tenant, endpoint="query", model=model,
        prompt="p", rendered_prompt="p", response="r", prompt_tokens=10,
        completion_tokens=5, latency_ms=1.0, created_at=at, cost_usd=amount,
        credential_id=credential, user_id=user)

"""JudgingStore: judged competitions, their entries and pairwise comparisons in the database
(migration 0014), per tenant, and the leaderboard fitted from them.

Every read and write is scoped by the RequestContext's tenant: another tenant's
competition is as unknown as one that never existed. The store takes any result shaped
like `cerebra.judging.base.CompetitionResult` (the Protocols below name what it reads), so
it does not depend on how a competition was run.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from sqlalchemy import Engine, RowMapping, delete, func, insert, select

from cerebra.context import RequestContext
from cerebra.db import schema
from cerebra.errors import InvalidInput, NotFound
from cerebra.judging.ratings import PRIOR_SD, Comparison, Outcome, PairLike, Ratings, fit

MAX_CATEGORY = 100
MAX_ID = 200


class EntryLike(Protocol):
    @property
    def contestant_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def answer(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def error(self) -> str: ...
    @property
    def trace_id(self) -> str: ...


class VerdictLike(Protocol):
    @property
    def winner(self) -> str | None: ...
    @property
    def rationale(self) -> str: ...
    @property
    def judge(self) -> str: ...
    @property
    def agreement(self) -> float | None: ...
    @property
    def comparisons(self) -> Sequence[PairLike]: ...
    @property
    def failures(self) -> Sequence[str]: ...


class CompetitionLike(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def prompt(self) -> str: ...
    @property
    def entries(self) -> Sequence[EntryLike]: ...
    @property
    def verdict(self) -> VerdictLike: ...
    @property
    def created_at(self) -> float: ...


def _category(category: str) -> str:
    if len(category) > MAX_CATEGORY:
        raise InvalidInput(f"a category is at most {MAX_CATEGORY} characters",
                           field="category")
    return category


def _checked(pairs: Iterable[PairLike]) -> list[Comparison]:
    out = []
    for pair in pairs:
        if not pair.a or not pair.b or len(pair.a) > MAX_ID or len(pair.b) > MAX_ID:
            raise InvalidInput(f"contestant ids are 1 to {MAX_ID} characters",
                               field="comparisons")
        try:
            out.append(Comparison(pair.a, pair.b, Outcome(pair.outcome)))
        except ValueError as exc:
            raise InvalidInput(str(exc), field="comparisons") from None
    return out


class JudgingStore:
    """Competitions, comparisons and leaderboards of the caller's tenant."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record_competition(self, context: RequestContext, result: CompetitionLike, *,
                           category: str = "") -> str:
        """Store a judged competition, its entries and its comparisons; returns its id."""
        verdict = result.verdict
        pairs = _checked(verdict.comparisons)
        tenant, category = context.tenant_id, _category(category)
        now = result.created_at or time.time()
        with self.engine.begin() as conn:
            conn.execute(insert(schema.competitions).values(
                tenant_id=tenant, id=result.id, prompt=result.prompt, judge=verdict.judge,
                winner_id=verdict.winner, rationale=verdict.rationale,
                agreement=verdict.agreement, category=category,
                failures=list(verdict.failures), created_at=now))
            if result.entries:
                conn.execute(insert(schema.competition_entries), [
                    {"tenant_id": tenant, "competition_id": result.id,
                     "contestant_id": e.contestant_id, "kind": e.kind, "model": e.model,
                     "answer": e.answer, "score": float(e.score), "error": e.error,
                     "trace_id": e.trace_id} for e in result.entries])
            self._insert_pairs(conn, tenant, pairs, result.id, category, now)
        return result.id

    def record_comparisons(self, context: RequestContext, pairs: Iterable[PairLike], *,
                           category: str = "") -> int:
        """Store comparisons made outside a competition (votes, imports); returns how many."""
        checked = _checked(pairs)
        with self.engine.begin() as conn:
            self._insert_pairs(conn, context.tenant_id, checked, None, _category(category),
                               time.time())
        return len(checked)

    @staticmethod
    def _insert_pairs(conn: Any, tenant: str, pairs: Sequence[Comparison],
                      competition_id: str | None, category: str, now: float) -> None:
        if pairs:
            conn.execute(insert(schema.comparisons), [
                {"tenant_id": tenant, "a": c.a, "b": c.b, "outcome": c.outcome.value,
                 "competition_id": competition_id, "category": category, "created_at": now}
                for c in pairs])

    def comparisons(self, context: RequestContext, category: str | None = None
                    ) -> list[Comparison]:
        """The tenant's comparisons, oldest first (of one category, or all)."""
        t = schema.comparisons
        query = select(t.c.a, t.c.b, t.c.outcome).where(t.c.tenant_id == context.tenant_id)
        if category is not None:
            query = query.where(t.c.category == category)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(t.c.id)).all()
        return [Comparison(r.a, r.b, Outcome(r.outcome)) for r in rows]

    def leaderboard(self, context: RequestContext, *, category: str | None = None,
                    n_boot: int = 200, level: float = 0.95, seed: int = 0,
                    prior_sd: float = PRIOR_SD) -> Ratings:
        """Bradley–Terry ratings of the tenant's contestants (see `ratings.fit`), with
        bootstrap intervals; seeded, so the same comparisons give the same board."""
        return fit(self.comparisons(context, category), n_boot=n_boot, level=level,
                   seed=seed, prior_sd=prior_sd)

    def list_competitions(self, context: RequestContext, *, limit: int = 50,
                          offset: int = 0, contestant: str | None = None
                          ) -> list[dict[str, Any]]:
        """The tenant's competitions, newest first: summaries without answers."""
        c, e = schema.competitions, schema.competition_entries
        query = select(c).where(c.c.tenant_id == context.tenant_id)
        if contestant is not None:
            query = query.where(c.c.id.in_(
                select(e.c.competition_id).where(e.c.tenant_id == context.tenant_id,
                                                 e.c.contestant_id == contestant)))
        query = query.order_by(c.c.created_at.desc(), c.c.id).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
            ids = [r["id"] for r in rows]
            entrants: dict[str, list[str]] = {i: [] for i in ids}
            if ids:
                found = conn.execute(
                    select(e.c.competition_id, e.c.contestant_id)
                    .where(e.c.tenant_id == context.tenant_id, e.c.competition_id.in_(ids))
                    .order_by(e.c.contestant_id)).all()
                for competition_id, contestant_id in found:
                    entrants[competition_id].append(contestant_id)
        return [_summary(r, entrants[r["id"]]) for r in rows]

    def count_competitions(self, context: RequestContext) -> int:
        c = schema.competitions
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(c)
                                    .where(c.c.tenant_id == context.tenant_id)).scalar_one())

    def get_competition(self, context: RequestContext, competition_id: str) -> dict[str, Any]:
        """One competition in full: entries with their answers, and its comparisons.
        NotFound when the tenant has none with that id."""
        c, e, p = schema.competitions, schema.competition_entries, schema.comparisons
        tenant = context.tenant_id
        with self.engine.connect() as conn:
            row = conn.execute(select(c).where(c.c.tenant_id == tenant,
                                               c.c.id == competition_id)).mappings().first()
            if row is None:
                raise NotFound(f"unknown competition {competition_id!r}",
                               field="competition_id")
            entries = conn.execute(
                select(e).where(e.c.tenant_id == tenant, e.c.competition_id == competition_id)
                .order_by(e.c.score.desc(), e.c.contestant_id)).mappings().all()
            pairs = conn.execute(
                select(p.c.a, p.c.b, p.c.outcome)
                .where(p.c.tenant_id == tenant, p.c.competition_id == competition_id)
                .order_by(p.c.id)).all()
        out = _summary(row, [en["contestant_id"] for en in entries])
        out["entries"] = [{k: en[k] for k in ("contestant_id", "kind", "model", "answer",
                                               "score", "error", "trace_id")}
                          for en in entries]
        out["comparisons"] = [{"a": a, "b": b, "outcome": o} for a, b, o in pairs]
        return out

    def delete_competition(self, context: RequestContext, competition_id: str) -> None:
        """Forget a competition and its comparisons (NotFound when it is not the tenant's)."""
        self.get_competition(context, competition_id)
        tenant = context.tenant_id
        with self.engine.begin() as conn:
            for table in (schema.comparisons, schema.competition_entries):
                conn.execute(delete(table).where(table.c.tenant_id == tenant,
                                                 table.c.competition_id == competition_id))
            conn.execute(delete(schema.competitions).where(
                schema.competitions.c.tenant_id == tenant,
                schema.competitions.c.id == competition_id))


def _summary(row: RowMapping, contestants: list[str]) -> dict[str, Any]:
    return {"id": row["id"], "prompt": row["prompt"], "judge": row["judge"],
            "winner_id": row["winner_id"], "rationale": row["rationale"],
            "agreement": row["agreement"], "category": row["category"],
            "failures": list(row["failures"] or []), "created_at": row["created_at"],
            "contestants": contestants}

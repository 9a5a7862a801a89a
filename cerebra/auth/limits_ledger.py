"""What a budget had already spent, from the ledger: the sum of `interactions.cost_usd` of a
tenant, an API key or a signed-in user over a budget's period, so that budgets survive a
restarted server (in-process limits) or a restarted or flushed Redis.

A tenant's spend is its interactions'; a key's, those made with it (`credential_id`, the
request principal's credential, recorded by the ledger); a user's (token and wallet
sign-ins), those made with any of its sign-in families (`refresh_tokens.family_id`, which is
the credential of every access token issued to it).
"""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from cerebra.auth.limits import Budget, to_nano
from cerebra.db.schema import interactions, refresh_tokens


class LedgerSpend:
    """A limiter's `Seeder`: a budget's spend in its period, in nano-dollars, from the ledger."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self, budget: Budget) -> int:
        i = interactions.c
        query = select(func.coalesce(func.sum(i.cost_usd), 0.0)).where(
            i.tenant_id == budget.tenant_id, i.created_at >= budget.starts_at,
            i.created_at < budget.resets_at)
        if budget.subject == "key":
            query = query.where(i.credential_id == budget.owner)
        elif budget.subject == "user":
            families = select(refresh_tokens.c.family_id).where(
                refresh_tokens.c.tenant_id == budget.tenant_id,
                refresh_tokens.c.user_id == budget.owner)
            query = query.where(i.credential_id.in_(families))
        elif budget.subject != "tenant":
            raise ValueError(f"no ledger spend for a {budget.subject!r} budget")
        with self.engine.connect() as conn:
            return to_nano(float(conn.execute(query).scalar() or 0.0))

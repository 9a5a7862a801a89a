"""Which rows of an owned table a request context may see: its tenant's, and for a
principal confined to its own user (and agent) only those — the rule of the ledger's
interactions, applied alike to whatever carries `tenant_id`, `user_id` and `agent_id`
(signals' interactions, kept traces)."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Table

from cerebra.context import RequestContext

Q = TypeVar("Q", bound=Any)  # a Select (or an Update, a Delete) over `table`


def visible_rows(query: Q, table: Table, context: RequestContext) -> Q:
    """`query` narrowed to the rows of `table` the context may see."""
    query = query.where(table.c.tenant_id == context.tenant_id)
    user, agent = context.confinement()
    if user is not None:
        query = query.where(table.c.user_id == user)
    if agent is not None:
        query = query.where(table.c.agent_id == agent)
    return query

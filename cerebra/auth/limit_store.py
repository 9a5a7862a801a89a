"""Where limits come from: `api_keys.limits` and `tenants.limits` (JSON) in the database over
the defaults of the `limits` settings, read through a short cache; and the small API that
sets them (`set_key_limits`, `set_tenant_limits`, `set_user_limits`) for the admin API and
CLI. A user signed in with a token or wallet has the user's own limits over the key
defaults, for all of its sign-ins together. A user's limits are kept in its tenant's row,
under `tenants.limits["users"][user_id]` (the users table has no limits column, and a
migration for one is not this change's to add); the tenant's own limits are the rest of
that object, and writing either keeps the other.

A stored value replaces the default for that one limit; 0 means unlimited; a limit not
stored falls back to the default. Changes made here are seen at once by this process and
by other processes within `cache_s`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Engine, select, update

from cerebra.auth.limits import Limits
from cerebra.db.schema import api_keys, tenants, users
from cerebra.errors import NotFound

_MAX_CACHED = 10_000
_USERS = "users"  # tenants.limits' object of per-user limits


class LimitStore:
    """Effective limits per key and per tenant (stored over defaults), cached `cache_s`."""

    def __init__(
        self,
        engine: Engine,
        *,
        key_defaults: Limits = Limits(),
        tenant_defaults: Limits = Limits(),
        cache_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.key_defaults = key_defaults
        self.tenant_defaults = tenant_defaults
        self.cache_s = cache_s
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, Limits]] = {}
        self._lock = threading.Lock()

    # -- reading ------------------------------------------------------------------------------
    def for_tenant(self, tenant_id: str) -> Limits:
        """The tenant's limits in force (stored over the defaults)."""
        return self._cached(tenant_id, "", lambda: self.tenant_limits(tenant_id).over(
            self.tenant_defaults))

    def for_key(self, tenant_id: str, key_id: str) -> Limits:
        """The API key's limits in force (stored over the defaults)."""
        return self._cached(tenant_id, key_id, lambda: self.key_limits(tenant_id, key_id).over(
            self.key_defaults))

    def for_user(self, tenant_id: str, user_id: str) -> Limits:
        """A user's limits when signed in with a token or wallet (all of its sign-ins
        together): its stored limits over the key defaults."""
        return self._cached(tenant_id, f"user:{user_id}", lambda: self.user_limits(
            tenant_id, user_id).over(self.key_defaults))

    def _tenant_object(self, conn: Any, tenant_id: str, *, lock: bool = False) -> Any:
        query = select(tenants.c.limits).where(tenants.c.id == tenant_id)
        return conn.execute(query.with_for_update() if lock else query).first()

    def tenant_limits(self, tenant_id: str) -> Limits:
        """What is stored for the tenant (unset limits: None)."""
        with self.engine.connect() as conn:
            row = self._tenant_object(conn, tenant_id)
        value = dict(row.limits or {}) if row is not None else {}
        value.pop(_USERS, None)
        return Limits.parse(value)

    def user_limits(self, tenant_id: str, user_id: str) -> Limits:
        """What is stored for the tenant's user (unset limits: None)."""
        with self.engine.connect() as conn:
            row = self._tenant_object(conn, tenant_id)
        per_user = ((row.limits or {}).get(_USERS) or {}) if row is not None else {}
        return Limits.parse(per_user.get(user_id))

    def key_limits(self, tenant_id: str, key_id: str) -> Limits:
        """What is stored for the key (unset limits: None)."""
        with self.engine.connect() as conn:
            value = conn.execute(select(api_keys.c.limits).where(
                api_keys.c.tenant_id == tenant_id, api_keys.c.id == key_id)).scalar()
        return Limits.parse(value)

    def _cached(self, tenant_id: str, key_id: str, load: Callable[[], Limits]) -> Limits:
        now = self._clock()
        hit = self._cache.get((tenant_id, key_id))
        if hit is not None and hit[0] > now:
            return hit[1]
        limits = load()
        with self._lock:
            if len(self._cache) >= _MAX_CACHED:
                self._cache.clear()
            self._cache[(tenant_id, key_id)] = (now + self.cache_s, limits)
        return limits

    # -- writing ------------------------------------------------------------------------------
    def set_tenant_limits(self, tenant_id: str, limits: Limits | Mapping[str, Any]) -> Limits:
        """Store the tenant's limits (replacing what was stored); NotFound for no such tenant."""
        parsed = limits if isinstance(limits, Limits) else Limits.parse(limits)
        with self.engine.begin() as conn:
            row = self._tenant_object(conn, tenant_id, lock=True)
            if row is None:
                raise NotFound(f"no tenant {tenant_id!r}", field="tenant")
            value = _stored(parsed) or {}
            per_user = (row.limits or {}).get(_USERS)
            if per_user:
                value[_USERS] = per_user
            conn.execute(update(tenants).where(tenants.c.id == tenant_id).values(
                limits=value or None))
        self._forget(tenant_id, "")
        return parsed

    def set_user_limits(self, tenant_id: str, user_id: str,
                        limits: Limits | Mapping[str, Any]) -> Limits:
        """Store a user's limits (replacing what was stored for it); NotFound for a user who
        is not the tenant's."""
        parsed = limits if isinstance(limits, Limits) else Limits.parse(limits)
        with self.engine.begin() as conn:
            found = conn.execute(select(users.c.id).where(
                users.c.tenant_id == tenant_id, users.c.id == user_id)).first()
            row = self._tenant_object(conn, tenant_id, lock=True)
            if found is None or row is None:
                raise NotFound(f"no user {user_id!r}", field="user_id")
            value = dict(row.limits or {})
            per_user = dict(value.get(_USERS) or {})
            stored = _stored(parsed)
            if stored:
                per_user[user_id] = stored
            else:
                per_user.pop(user_id, None)
            if per_user:
                value[_USERS] = per_user
            else:
                value.pop(_USERS, None)
            conn.execute(update(tenants).where(tenants.c.id == tenant_id).values(
                limits=value or None))
        self._forget(tenant_id, f"user:{user_id}")
        return parsed

    def set_key_limits(self, tenant_id: str, key_id: str,
                       limits: Limits | Mapping[str, Any]) -> Limits:
        """Store an API key's limits (replacing what was stored); NotFound for a key that is
        not the tenant's."""
        parsed = limits if isinstance(limits, Limits) else Limits.parse(limits)
        with self.engine.begin() as conn:
            done = conn.execute(update(api_keys).where(
                api_keys.c.tenant_id == tenant_id, api_keys.c.id == key_id).values(
                limits=_stored(parsed))).rowcount
        if not done:
            raise NotFound(f"no API key {key_id!r}", field="key_id")
        self._forget(tenant_id, key_id)
        return parsed

    def _forget(self, tenant_id: str, key_id: str) -> None:
        with self._lock:
            self._cache.pop((tenant_id, key_id), None)


def _stored(limits: Limits) -> dict[str, Any] | None:
    values = {k: v for k, v in limits.to_dict().items() if v is not None}
    return values or None

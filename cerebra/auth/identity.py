"""The identity store: tenants, users (argon2id password hashes) and API keys (stored as
SHA-256 hashes, shown once), every query scoped by tenant.

An API key is `ck-` + 43 URL-safe characters (256 random bits): a fast hash is the right
one for it (nothing to brute-force), so resolving a key is one indexed lookup. Passwords
are people's, so they get argon2id. A key or user id from another tenant is "not found",
never "forbidden": nothing confirms that it exists.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from cerebra.auth.principal import Principal, Role, Scope, parse_role, parse_scopes, scopes_of
from cerebra.db.schema import api_keys, tenants, users
from cerebra.errors import Conflict, InvalidInput, NotFound

KEY_PREFIX = "ck-"
_ID_CHARS = 12


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_id(kind: str) -> str:
    return f"{kind}_{secrets.token_hex(_ID_CHARS // 2 + 2)}"


def _check_name(value: str, field: str, *, limit: int = 64) -> str:
    value = value.strip()
    if not value or len(value) > limit or any(c.isspace() or ord(c) < 32 for c in value):
        raise InvalidInput(
            f"{field} must be 1–{limit} characters without spaces", field=field
        )
    return value


@dataclass(frozen=True)
class KeyRecord:
    """What is kept of an API key (never the secret)."""

    id: str
    tenant_id: str
    user_id: str
    name: str
    prefix: str
    roles: tuple[str, ...]
    scopes: tuple[str, ...]
    agent_id: str
    created_at: float
    expires_at: float | None
    revoked_at: float | None
    last_used_at: float | None
    limits: Mapping[str, Any] | None = None

    def state(self, now: float | None = None) -> str:
        now = time.time() if now is None else now
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def principal(self) -> Principal:
        return Principal(
            tenant_id=self.tenant_id, user_id=self.user_id,
            roles=frozenset(Role(r) for r in self.roles),
            scopes=frozenset(Scope(s) for s in self.scopes),
            kind="key", credential_id=self.id, agent_id=self.agent_id,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "tenant_id": self.tenant_id, "user_id": self.user_id,
            "name": self.name, "prefix": self.prefix, "roles": list(self.roles),
            "scopes": list(self.scopes), "agent_id": self.agent_id,
            "created_at": self.created_at, "expires_at": self.expires_at,
            "revoked_at": self.revoked_at, "last_used_at": self.last_used_at,
            "state": self.state(), "limits": dict(self.limits or {}),
        }


@dataclass(frozen=True)
class UserRecord:
    id: str
    tenant_id: str
    username: str
    roles: tuple[str, ...]
    wallet: str | None
    disabled: bool
    created_at: float

    def principal(self, *, kind: str, credential_id: str) -> Principal:
        roles = frozenset(Role(r) for r in self.roles)
        return Principal(
            tenant_id=self.tenant_id, user_id=self.id, roles=roles, scopes=scopes_of(roles),
            kind=kind, credential_id=credential_id, wallet=self.wallet,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "tenant_id": self.tenant_id, "username": self.username,
            "roles": list(self.roles), "wallet": self.wallet, "disabled": self.disabled,
            "created_at": self.created_at,
        }


def _key(row: Any) -> KeyRecord:
    return KeyRecord(
        id=row.id, tenant_id=row.tenant_id, user_id=row.user_id, name=row.name,
        prefix=row.prefix, roles=tuple(row.roles), scopes=tuple(row.scopes),
        agent_id=row.agent_id, created_at=row.created_at, expires_at=row.expires_at,
        revoked_at=row.revoked_at, last_used_at=row.last_used_at, limits=row.limits,
    )


def _user(row: Any) -> UserRecord:
    return UserRecord(
        id=row.id, tenant_id=row.tenant_id, username=row.username, roles=tuple(row.roles),
        wallet=row.wallet, disabled=bool(row.disabled), created_at=row.created_at,
    )


class IdentityStore:
    """Tenants, users and API keys in the database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._hasher: Any = None

    # -- tenants ------------------------------------------------------------------------
    def create_tenant(self, tenant_id: str, name: str | None = None) -> dict[str, Any]:
        tenant_id = _check_name(tenant_id, "tenant")
        row = {"id": tenant_id, "name": name or tenant_id, "created_at": time.time()}
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(tenants).values(**row))
        except IntegrityError:
            raise Conflict(f"tenant {tenant_id!r} exists", field="tenant") from None
        return row

    def tenant_exists(self, tenant_id: str) -> bool:
        with self.engine.connect() as conn:
            found = conn.execute(select(tenants.c.id).where(tenants.c.id == tenant_id))
            return found.first() is not None

    def list_tenants(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(tenants).order_by(tenants.c.created_at)).all()
        return [{"id": r.id, "name": r.name, "created_at": r.created_at} for r in rows]

    def _require_tenant(self, tenant_id: str) -> None:
        if not self.tenant_exists(tenant_id):
            raise NotFound(f"unknown tenant {tenant_id!r}", field="tenant")

    # -- users --------------------------------------------------------------------------
    def _password_hasher(self) -> Any:
        if self._hasher is None:
            from argon2 import PasswordHasher

            self._hasher = PasswordHasher()
        return self._hasher

    def create_user(
        self, tenant_id: str, username: str, password: str | None = None, *,
        roles: Iterable[str] = (Role.USER,), wallet: str | None = None,
    ) -> UserRecord:
        self._require_tenant(tenant_id)
        username = _check_name(username, "username", limit=200)
        if password is not None and len(password) < 8:
            raise InvalidInput("password must be at least 8 characters", field="password")
        role_names = tuple(sorted({parse_role(r).value for r in roles}))
        if not role_names:
            raise InvalidInput("a user needs at least one role", field="roles")
        row = {
            "id": _new_id("usr"), "tenant_id": tenant_id, "username": username,
            "password_hash": self._password_hasher().hash(password) if password else None,
            "roles": list(role_names), "wallet": wallet, "disabled": False,
            "created_at": time.time(),
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(users).values(**row))
        except IntegrityError:
            raise Conflict(f"user {username!r} exists in tenant {tenant_id!r}",
                           field="username") from None
        return _user(type("Row", (), row))

    def authenticate(self, tenant_id: str, username: str, password: str) -> UserRecord | None:
        """The user when the password matches (argon2id), else None — in about the same
        time whether or not the user exists."""
        from argon2.exceptions import InvalidHashError, VerificationError

        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(
                users.c.tenant_id == tenant_id, users.c.username == username)).first()
        hasher = self._password_hasher()
        stored = row.password_hash if row is not None and row.password_hash else None
        try:
            hasher.verify(stored or _DUMMY_HASH.get(hasher), password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None or stored is None or row.disabled:
            return None
        return _user(row)

    def get_user(self, tenant_id: str, user_id: str) -> UserRecord:
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(
                users.c.tenant_id == tenant_id, users.c.id == user_id)).first()
        if row is None:
            raise NotFound(f"unknown user {user_id!r}", field="user_id")
        return _user(row)

    def user_by_wallet(self, wallet: str) -> UserRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.wallet == wallet)).first()
        return None if row is None else _user(row)

    def list_users(self, tenant_id: str) -> list[UserRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(users).where(users.c.tenant_id == tenant_id)
                                .order_by(users.c.created_at)).all()
        return [_user(r) for r in rows]

    # -- API keys -----------------------------------------------------------------------
    def create_key(
        self, tenant_id: str, *, role: str = Role.USER, scopes: Iterable[str] | None = None,
        user_id: str | None = None, name: str = "", agent_id: str = "",
        expires_in_s: float | None = None, limits: Mapping[str, Any] | None = None,
    ) -> tuple[str, KeyRecord]:
        """A new key: (the secret, shown once; its record). `scopes` narrows the role's."""
        self._require_tenant(tenant_id)
        parsed_role = parse_role(role)
        allowed = scopes_of([parsed_role])
        granted = allowed if scopes is None else parse_scopes(scopes)
        if not granted <= allowed:
            extra = ", ".join(sorted(granted - allowed))
            raise InvalidInput(f"role {parsed_role.value} cannot grant {extra}", field="scopes")
        if expires_in_s is not None and expires_in_s <= 0:
            raise InvalidInput("expires_in_s must be positive", field="expires_in_s")
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key_id = _new_id("key")
        now = time.time()
        row = {
            "id": key_id, "tenant_id": tenant_id, "user_id": user_id or f"key:{key_id}",
            "name": name[:200], "prefix": secret[:10], "key_hash": hash_key(secret),
            "roles": [parsed_role.value], "scopes": sorted(s.value for s in granted),
            "agent_id": agent_id, "limits": dict(limits) if limits else None,
            "created_at": now, "expires_at": now + expires_in_s if expires_in_s else None,
            "revoked_at": None, "last_used_at": None,
        }
        with self.engine.begin() as conn:
            conn.execute(insert(api_keys).values(**row))
        return secret, _key(type("Row", (), row))

    def resolve_key(self, secret: str) -> KeyRecord | None:
        """The key's record (any state: the caller checks `state()`), or None if unknown."""
        if not secret.startswith(KEY_PREFIX):
            return None
        with self.engine.connect() as conn:
            row = conn.execute(
                select(api_keys).where(api_keys.c.key_hash == hash_key(secret))).first()
        return None if row is None else _key(row)

    def list_keys(self, tenant_id: str) -> list[KeyRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(api_keys).where(api_keys.c.tenant_id == tenant_id)
                                .order_by(api_keys.c.created_at)).all()
        return [_key(r) for r in rows]

    def get_key(self, tenant_id: str, key_id: str) -> KeyRecord:
        with self.engine.connect() as conn:
            row = conn.execute(select(api_keys).where(
                api_keys.c.tenant_id == tenant_id, api_keys.c.id == key_id)).first()
        if row is None:
            raise NotFound(f"unknown key {key_id!r}", field="key_id")
        return _key(row)

    def revoke_key(self, tenant_id: str, key_id: str) -> KeyRecord:
        """Revoke a key of this tenant (idempotent); another tenant's key is not found."""
        with self.engine.begin() as conn:
            conn.execute(update(api_keys).where(
                api_keys.c.tenant_id == tenant_id, api_keys.c.id == key_id,
                api_keys.c.revoked_at.is_(None)).values(revoked_at=time.time()))
        return self.get_key(tenant_id, key_id)

    def count_keys(self, *, role: str | None = None) -> int:
        query = select(func.count()).select_from(api_keys).where(api_keys.c.revoked_at.is_(None))
        with self.engine.connect() as conn:
            if role is None:
                return int(conn.execute(query).scalar_one())
            rows = conn.execute(select(api_keys.c.roles).where(
                api_keys.c.revoked_at.is_(None))).scalars().all()
        return sum(1 for roles in rows if role in roles)

    def touch_key(self, key_id: str, when: float | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(api_keys).where(api_keys.c.id == key_id)
                         .values(last_used_at=when or time.time()))


class _DummyHash:
    """A hash of a random password, so a missing user costs one argon2 verify too."""

    def __init__(self) -> None:
        self._value: str | None = None

    def get(self, hasher: Any) -> str:
        if self._value is None:
            self._value = hasher.hash(secrets.token_hex(16))
        return self._value


_DUMMY_HASH = _DummyHash()

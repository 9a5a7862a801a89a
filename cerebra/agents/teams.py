"""Teams (the business factory): ventures with roles, an agent in each role, KPIs recorded
per role over time, and KPI history that reassigns agents and evolves their specialisation.

```python
factory = BusinessFactory(AgentRegistry(), MemoryStore())
venture = factory.create_business("biz1", ["marketing", "dev"])
factory.record_kpi("biz1", "marketing", 0.8)      # a value against the role's target
```

- A role asks for a specialisation (traits: ROLE_TRAITS for the known roles, else helpful
  and methodical); a role without a given agent gets a new one, `<venture>.<role>.<n>`,
  created through the registry with those traits.
- Every KPI value is stored with the agent that held the role, and counts in the agent's
  career (`registry.record`: met the target or not, the venture and role named).
- Reassignment: when the holder's last `window` values average below the role's target,
  the role goes to the best other agent that held a role of that name in any of the
  tenant's ventures and averaged at least the target there (not sandboxed); if there is
  none, to a fresh agent whose specialisation evolved — the role's traits plus the traits
  of the best holder the role has had (what worked), else plus the next trait of
  EVOLUTION. The handover (role, KPI, the last values) goes to the new holder's memory when
  the factory has a memory store. Who held a role, when and why is kept (assignments).

Everything is scoped by the registry's tenant; another tenant's venture is unknown (404).
"""

from __future__ import annotations

import builtins
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from cerebra.db.schema import venture_assignments, venture_kpis, venture_roles, ventures
from cerebra.errors import Conflict, InvalidInput, NotFound

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from cerebra.agents.registry import AgentRegistry
    from cerebra.memory.store import MemoryStore

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,27}$"  # ventures and roles
_NAME = re.compile(NAME_PATTERN[1:-1])
MAX_ROLES = 16
ROLE_TRAITS: dict[str, tuple[str, ...]] = {
    "marketing": ("creative", "optimistic"),
    "dev": ("analytical", "precise"),
    "outreach": ("friendly", "empathetic"),
    "sales": ("ambitious", "friendly"),
    "support": ("patient", "helpful"),
    "research": ("curious", "skeptical"),
    "finance": ("cautious", "precise"),
    "ops": ("methodical", "concise"),
}
DEFAULT_TRAITS = ("helpful", "methodical")
EVOLUTION = ("methodical", "ambitious", "concise", "curious", "cautious", "creative")


class UnknownVenture(NotFound):
    code = "venture_not_found"


class UnknownRole(NotFound):
    code = "role_not_found"


def check_name(value: object, field: str) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise InvalidInput(f"{field} must be 1-28 letters, digits, '_' or '-', starting with a "
                           "letter or digit", field=field)
    return value


@dataclass(frozen=True)
class KpiResult:
    """What recording a KPI did: the value stored, and a reassignment when there was one."""

    venture: str
    role: str
    agent_id: str  # who held the role when the value was recorded
    value: float
    met: bool
    window_mean: float | None  # the holder's last `window` values, once there are that many
    reassigned_to: str | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class BusinessFactory:
    """Ventures of the registry's tenant (see the module docstring). `target` and `window`
    are the defaults of a role's KPI target and the number of values it is judged on."""

    def __init__(self, registry: AgentRegistry, memory: MemoryStore | None = None, *,
                 target: float = 0.5, window: int = 5) -> None:
        self.registry, self.memory = registry, memory
        self.engine, self.tenant_id = registry.engine, registry.tenant_id
        self.target, self.window = float(target), _window(window)

    # -- creating ---------------------------------------------------------------------------
    def create_business(self, name: str, roles: Sequence[str] | Mapping[str, Any], *,
                        agents: Mapping[str, str] | None = None) -> dict[str, Any]:
        """A venture with `roles` (names, or name → {target, window, kpi, traits}); each
        role gets `agents[role]` (an existing agent) or a new agent of its specialisation.
        Conflict when the tenant has a venture by that name."""
        check_name(name, "name")
        specs = _role_specs(roles, self.target, self.window)
        given = dict(agents or {})
        for role, agent_id in given.items():
            if role not in specs:
                raise InvalidInput(f"agents names role {role!r}, not one of the roles",
                                   field="agents")
            self.registry.get(agent_id)
        now = time.time()
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(ventures).values(tenant_id=self.tenant_id, name=name,
                                                     created_at=now))
        except IntegrityError:
            raise Conflict(f"venture {name!r} exists already", field="name") from None
        for position, (role, spec) in enumerate(specs.items()):
            agent_id = given.get(role) or self._fresh(name, role, 1, spec["traits"]).id
            with self.engine.begin() as conn:
                conn.execute(insert(venture_roles).values(
                    tenant_id=self.tenant_id, venture=name, role=role, kpi=spec["kpi"],
                    target=spec["target"], window=spec["window"], agent_id=agent_id,
                    specialisation=list(spec["traits"]), generation=1, position=position,
                    created_at=now))
                self._assign(conn, name, role, agent_id, "the venture was created", now)
        return self.show(name)

    def _fresh(self, venture: str, role: str, generation: int, traits: Sequence[str]) -> Any:
        return self.registry.ensure(f"{venture}.{role}.{generation}", list(traits),
                                    reason=f"created for {venture}'s {role} role")

    def _assign(self, conn: Connection, venture: str, role: str, agent_id: str, reason: str,
                now: float) -> None:
        a = venture_assignments
        conn.execute(update(a).where(
            (a.c.tenant_id == self.tenant_id) & (a.c.venture == venture) & (a.c.role == role)
            & a.c.ended_at.is_(None)).values(ended_at=now))
        conn.execute(insert(a).values(tenant_id=self.tenant_id, venture=venture, role=role,
                                      agent_id=agent_id, reason=reason[:2000], started_at=now,
                                      ended_at=None))

    # -- KPIs -------------------------------------------------------------------------------
    def record_kpi(self, venture: str, role: str, value: float, *,
                   note: str = "") -> KpiResult:
        """Record a KPI value for the role's current agent; it counts in the agent's career
        and may reassign the role (see the module docstring)."""
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or value != value or abs(value) > 1e12:
            raise InvalidInput("a KPI value is a finite number", field="value")
        row = self._role(venture, role)
        now, met = time.time(), float(value) >= row.target
        k = venture_kpis
        with self.engine.begin() as conn:
            conn.execute(insert(k).values(
                tenant_id=self.tenant_id, venture=venture, role=role, agent_id=row.agent_id,
                value=float(value), note=str(note)[:1000], at=now))
        self.registry.record(row.agent_id, met, reason=(
            f"venture {venture}, role {role}: {row.kpi} {value:g} "
            f"{'met' if met else 'below'} target {row.target:g}"))
        values = self._values(venture, role, row.agent_id)[-row.window:]
        mean = sum(values) / len(values) if len(values) >= row.window else None
        result = KpiResult(venture, role, row.agent_id, float(value), met, mean)
        if mean is None or mean >= row.target:
            return result
        reason = (f"{row.agent_id}'s last {row.window} {row.kpi} values average {mean:.3g}, "
                  f"below the target {row.target:g}")
        successor = self._successor(venture, role, row)
        with self.engine.begin() as conn:
            conn.execute(update(venture_roles).where(self._role_where(venture, role)).values(
                agent_id=successor.id, specialisation=list(successor.traits),
                generation=row.generation + 1))
            self._assign(conn, venture, role, successor.id, reason, now)
        if self.memory is not None:
            self.memory.add(successor.memory_scope, (
                f"You now hold the {role} role of the venture {venture} ({reason}). "
                f"The KPI is {row.kpi}, target {row.target:g}; the last values were "
                f"{', '.join(f'{v:g}' for v in values)}."), tags=["venture", venture],
                source="teams", context=self.registry.context)
        return KpiResult(venture, role, row.agent_id, float(value), met, mean,
                         reassigned_to=successor.id, reason=reason)

    def _successor(self, venture: str, role: str, row: Any) -> Any:
        """The best other former holder of a role of this name that met its target, else a
        fresh agent with an evolved specialisation."""
        k, r = venture_kpis, venture_roles
        with self.engine.connect() as conn:
            rows = conn.execute(select(k.c.agent_id, k.c.value, r.c.target).join(r, (
                (r.c.tenant_id == k.c.tenant_id) & (r.c.venture == k.c.venture)
                & (r.c.role == k.c.role))).where(
                (k.c.tenant_id == self.tenant_id) & (k.c.role == role)).order_by(k.c.id)).all()
        per: dict[str, builtins.list[float]] = {}
        for x in rows:
            per.setdefault(x.agent_id, []).append(x.value - x.target)  # margin over target
        ranked = sorted(((sum(v) / len(v), a) for a, v in per.items()), reverse=True)
        for margin, agent_id in ranked:
            if agent_id != row.agent_id and margin >= 0 and self.registry.exists(agent_id) \
                    and not self.registry.get(agent_id).sandboxed:
                return self.registry.get(agent_id)
        best = next((a for _, a in ranked if a != row.agent_id and self.registry.exists(a)),
                    None)
        learned = self.registry.get(best).traits if best else ()
        traits = list(dict.fromkeys([*row.specialisation, *learned]))
        if not learned:
            traits.append(next((t for t in EVOLUTION if t not in traits), "honest"))
        return self._fresh(venture, role, row.generation + 1, traits[:16])

    # -- reading ----------------------------------------------------------------------------
    def _role_where(self, venture: str, role: str) -> Any:
        r = venture_roles
        return (r.c.tenant_id == self.tenant_id) & (r.c.venture == venture) & (r.c.role == role)

    def _role(self, venture: str, role: str) -> Any:
        self._venture(venture)
        with self.engine.connect() as conn:
            row = conn.execute(select(venture_roles).where(self._role_where(venture, role))
                               ).first()
        if row is None:
            raise UnknownRole(f"venture {venture!r} has no role {role!r}", field="role")
        return row

    def _venture(self, venture: str) -> Any:
        v = ventures
        with self.engine.connect() as conn:
            row = conn.execute(select(v).where(
                (v.c.tenant_id == self.tenant_id) & (v.c.name == venture))).first()
        if row is None:
            raise UnknownVenture(f"unknown venture {venture!r}", field="venture")
        return row

    def _values(self, venture: str, role: str, agent_id: str) -> builtins.list[float]:
        k = venture_kpis
        with self.engine.connect() as conn:
            return list(conn.execute(select(k.c.value).where(
                (k.c.tenant_id == self.tenant_id) & (k.c.venture == venture)
                & (k.c.role == role) & (k.c.agent_id == agent_id)).order_by(k.c.id)).scalars())

    def list(self) -> builtins.list[str]:
        v = ventures
        with self.engine.connect() as conn:
            return list(conn.execute(select(v.c.name).where(
                v.c.tenant_id == self.tenant_id).order_by(v.c.name)).scalars())

    def show(self, venture: str, *, kpis: int = 100) -> dict[str, Any]:
        """The venture: its roles (KPI, target, window, agent, specialisation), who held
        each role and why, and the last `kpis` values of each role."""
        head = self._venture(venture)
        r, a, k = venture_roles, venture_assignments, venture_kpis
        mine = (r.c.tenant_id == self.tenant_id) & (r.c.venture == venture)
        with self.engine.connect() as conn:
            roles = conn.execute(select(r).where(mine).order_by(r.c.position)).all()
            held = conn.execute(select(a).where(
                (a.c.tenant_id == self.tenant_id) & (a.c.venture == venture)).order_by(a.c.id)
            ).all()
            values = conn.execute(select(k).where(
                (k.c.tenant_id == self.tenant_id) & (k.c.venture == venture)).order_by(
                k.c.id.desc()).limit(kpis * max(1, len(roles)))).all()
        out_roles = []
        for row in roles:
            history = [x for x in reversed(values) if x.role == row.role][-kpis:]
            out_roles.append({
                "role": row.role, "kpi": row.kpi, "target": row.target, "window": row.window,
                "agent_id": row.agent_id, "specialisation": list(row.specialisation),
                "generation": row.generation,
                "assignments": [{"agent_id": x.agent_id, "reason": x.reason,
                                 "started_at": x.started_at, "ended_at": x.ended_at}
                                for x in held if x.role == row.role],
                "kpis": [{"agent_id": x.agent_id, "value": x.value, "note": x.note,
                          "at": x.at} for x in history]})
        return {"name": head.name, "created_at": head.created_at, "roles": out_roles}


def _window(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
        raise InvalidInput("window must be a whole number of values in [1, 1000]",
                           field="window")
    return value


def _role_specs(roles: Sequence[str] | Mapping[str, Any], target: float,
                window: int) -> dict[str, dict[str, Any]]:
    from cerebra.agents.persona import normalise_traits

    if isinstance(roles, str) or not roles or len(roles) > MAX_ROLES:
        raise InvalidInput(f"roles: a list of 1 to {MAX_ROLES} role names", field="roles")
    items = roles.items() if isinstance(roles, Mapping) else ((r, {}) for r in roles)
    out: dict[str, dict[str, Any]] = {}
    for role, spec in items:
        check_name(role, "roles")
        if role in out:
            raise InvalidInput(f"role {role!r} is named twice", field="roles")
        spec = dict(spec or {})
        unknown = set(spec) - {"target", "window", "kpi", "traits"}
        if unknown:
            raise InvalidInput(f"unknown role fields: {', '.join(sorted(unknown))}",
                               field="roles")
        goal = spec.get("target", target)
        if isinstance(goal, bool) or not isinstance(goal, int | float) or abs(goal) > 1e12:
            raise InvalidInput("a role's target is a number", field="target")
        out[role] = {
            "target": float(goal), "window": _window(spec.get("window", window)),
            "kpi": check_name(spec.get("kpi", "kpi"), "kpi"),
            "traits": normalise_traits(spec.get("traits") or ROLE_TRAITS.get(
                role.lower(), DEFAULT_TRAITS)),
        }
    return out

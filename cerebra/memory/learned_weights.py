"""Learned retrieval weights per scope (issue 12, item 6): the versions kept in
`memory_weights`, the weights a search uses, and learning, reset and rollback.

A scope is a tenant and an agent ("" for the whole tenant). A search by an agent uses that
agent's learned weights, else the tenant's, else the defaults (cached per process;
invalidated on every change made here, re-read after `CACHE_S` for changes made by other
processes; learning always starts from the stored latest version, one step at a time per
process — two processes learning at once may each step from the same version).
Feedback (`learn`, `learn_bundle`) appends a version with one step of the rule in
cerebra.memory.weight_learning, at rate / √t for the scope's t-th update since a reset;
`reset` appends the defaults and `rollback` a copy of an earlier version, so every version
stays readable and any can be restored.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, cast

import numpy as np
from sqlalchemy import Engine, and_, func, insert, select
from sqlalchemy.exc import IntegrityError

from cerebra.db.weight_tables import memory_weights as t
from cerebra.errors import InvalidInput, NotFound
from cerebra.memory import weight_learning as rule_of
from cerebra.memory.retrieval import RetrievalWeights
from cerebra.memory.weight_learning import LearningRule

CACHE_S = 5.0  # how long another process's change may take to reach this one's searches


@dataclass(frozen=True)
class WeightVersion:
    tenant_id: str
    agent_id: str
    version: int
    event: str  # update | reset | rollback
    weights: dict[str, float]
    updates: int
    pairs: int
    loss: float | None
    based_on: int | None
    created_at: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _agent(agent_id: str | None) -> str:
    if agent_id is not None and (not isinstance(agent_id, str) or len(agent_id) > 200):
        raise InvalidInput("agent_id must be a string of at most 200 characters",
                           field="agent_id")
    return agent_id or ""


class WeightVersions:
    """The append-only versions of each scope's weights in `memory_weights`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def latest(self, tenant_id: str, agent_id: str) -> WeightVersion | None:
        found = self.history(tenant_id, agent_id, limit=1)
        return found[0] if found else None

    def history(self, tenant_id: str, agent_id: str, *, limit: int = 20) -> list[WeightVersion]:
        """The scope's versions, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t).where(t.c.tenant_id == tenant_id, t.c.agent_id == agent_id)
                .order_by(t.c.version.desc()).limit(limit)).mappings().all()
        return [WeightVersion(**dict(r)) for r in rows]

    def get(self, tenant_id: str, agent_id: str, version: int) -> WeightVersion | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(t).where(and_(
                t.c.tenant_id == tenant_id, t.c.agent_id == agent_id, t.c.version == version,
            ))).mappings().first()
        return None if row is None else WeightVersion(**dict(row))

    def append(self, tenant_id: str, agent_id: str, event: str, weights: Mapping[str, float],
               *, updates: int, pairs: int, loss: float | None = None,
               based_on: int | None = None) -> WeightVersion:
        """Add the next version (retried when another writer took the number first)."""
        for _ in range(5):
            try:
                with self.engine.begin() as conn:
                    top = conn.execute(select(func.max(t.c.version)).where(
                        t.c.tenant_id == tenant_id, t.c.agent_id == agent_id)).scalar()
                    row = WeightVersion(tenant_id, agent_id, int(top or 0) + 1, event,
                                        dict(weights), updates, pairs, loss, based_on,
                                        time.time())
                    conn.execute(insert(t).values(**row.to_dict()))
                return row
            except IntegrityError:
                continue
        raise RuntimeError("could not append a weights version: too many concurrent writers")


class LearnedWeights:
    """The weights each scope searches with, learned online from feedback, over `versions`;
    `defaults` are the configured weights the learned ones stay around."""

    def __init__(self, versions: WeightVersions, defaults: RetrievalWeights,
                 rule: LearningRule | None = None) -> None:
        self.versions = versions
        self.defaults = defaults
        self.rule = rule or LearningRule()
        self._cache: dict[tuple[str, str], tuple[float, WeightVersion | None]] = {}
        self._lock = threading.Lock()
        self._learning = threading.Lock()

    @classmethod
    def on(cls, engine: Engine, defaults: RetrievalWeights,
           rule: LearningRule | None = None) -> LearnedWeights:
        return cls(WeightVersions(engine), defaults, rule)

    def default_dict(self) -> dict[str, float]:
        return rule_of.weights_dict(self.defaults)

    # -- reads ------------------------------------------------------------------------
    def _latest(self, tenant_id: str, agent_id: str) -> WeightVersion | None:
        key, now = (tenant_id, agent_id), time.monotonic()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = self.versions.latest(tenant_id, agent_id)
        with self._lock:
            self._cache[key] = (now + CACHE_S, found)
        return found

    def _forget(self, tenant_id: str, agent_id: str) -> None:
        with self._lock:
            self._cache.pop((tenant_id, agent_id), None)

    def in_force(self, tenant_id: str, agent_id: str | None) -> WeightVersion | None:
        """The version a search by `agent_id` uses: the agent's, else the tenant's."""
        agent = _agent(agent_id)
        found = self._latest(tenant_id, agent) if agent else None
        return found if found is not None else self._latest(tenant_id, "")

    def weights_for(self, tenant_id: str, agent_id: str | None) -> RetrievalWeights:
        """The retrieval weights a search in this scope ranks with."""
        found = self.in_force(tenant_id, agent_id)
        return self.defaults if found is None else self.apply(found.weights)

    def apply(self, learned: Mapping[str, float]) -> RetrievalWeights:
        """The defaults with the learned weights, kept within the rule's bounds of them
        (a version learned under other defaults or bounds is brought back inside)."""
        defaults = self.default_dict()
        names = rule_of.learnable(defaults)
        if not names:
            return self.defaults
        theta = rule_of.project(rule_of.theta_of(learned, defaults, names), self.rule.bound,
                                self.rule.drift)
        changes = {s: defaults[s] * float(np.exp(v)) for s, v in zip(names, theta, strict=True)}
        return replace(self.defaults, **cast(dict[str, Any], changes))

    def describe(self, tenant_id: str, agent_id: str | None, *, history: int = 20
                 ) -> dict[str, Any]:
        """What a scope searches with, the defaults, and its versions (newest first)."""
        agent = _agent(agent_id)
        found = self.in_force(tenant_id, agent)
        weights = self.weights_for(tenant_id, agent)
        return {
            "tenant_id": tenant_id, "agent_id": agent,
            "source": "defaults" if found is None else
            ("agent" if found.agent_id and found.agent_id == agent else "tenant"),
            "version": None if found is None else found.version,
            "weights": rule_of.weights_dict(weights),
            "defaults": self.default_dict(),
            "rule": asdict(self.rule),
            "history": [v.to_dict() for v in
                        self.versions.history(tenant_id, agent, limit=history)],
        }

    # -- changes ----------------------------------------------------------------------
    def learn(self, tenant_id: str, agent_id: str | None,
              ranked: Sequence[tuple[str, Mapping[str, float]]], helpful: Sequence[str],
              unhelpful: Sequence[str], in_force: Mapping[str, float]) -> WeightVersion | None:
        """One feedback event on a ranking (memory ids with their signals, made with the
        weights `in_force`): helpful memories should rank above unhelpful ones. Appends a
        version of the scope's weights (starting from those the scope searches with);
        None when the event teaches nothing (no helpful-unhelpful pair)."""
        agent = _agent(agent_id)
        with self._learning:  # one step at a time, each from the latest version
            self._forget(tenant_id, agent)
            self._forget(tenant_id, "")
            start = self.weights_for(tenant_id, agent)
            own = self._latest(tenant_id, agent)
            done = own.updates if own else 0  # since the last reset: the rate decays as 1/√t
            step = rule_of.update(rule_of.weights_dict(start), self.default_dict(), ranked,
                                  helpful, unhelpful, in_force, self.rule,
                                  rate=self.rule.rate / math.sqrt(done + 1))
            if step is None:
                return None
            version = self.versions.append(
                tenant_id, agent, "update", step.weights, updates=done + 1,
                pairs=(own.pairs if own else 0) + step.pairs, loss=step.loss)
            self._forget(tenant_id, agent)
        return version

    def learn_bundle(self, record: Any, helpful: Sequence[str],
                     unhelpful: Sequence[str]) -> WeightVersion | None:
        """Learn from an agent's feedback on a context bundle (cerebra.memory.bundle_store):
        the memories it marks helpful against those it marks unhelpful — or, when it marks
        none unhelpful, against the bundle's other memories."""
        ranked = [(str(m["id"]), dict(m.get("signals") or {})) for m in record.memories]
        if not unhelpful:
            unhelpful = [mid for mid, _ in ranked if mid not in set(helpful)]
        return self.learn(record.tenant_id, record.agent_id or "", ranked, helpful, unhelpful,
                          dict(record.weights or {}))

    def reset(self, tenant_id: str, agent_id: str | None) -> WeightVersion:
        """Back to the defaults (a new version; the learned ones stay in the history)."""
        agent = _agent(agent_id)
        version = self.versions.append(tenant_id, agent, "reset", self.default_dict(),
                                       updates=0, pairs=0)
        self._forget(tenant_id, agent)
        return version

    def rollback(self, tenant_id: str, agent_id: str | None, version: int) -> WeightVersion:
        """Restore an earlier version of the scope's weights (as a new version)."""
        agent = _agent(agent_id)
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise InvalidInput("version must be a positive integer", field="version")
        old = self.versions.get(tenant_id, agent, version)
        if old is None:
            raise NotFound(f"no weights version {version} for this scope", field="version")
        restored = self.versions.append(tenant_id, agent, "rollback", old.weights,
                                        updates=old.updates, pairs=old.pairs, based_on=version)
        self._forget(tenant_id, agent)
        return restored


def learned_weights(engine: Engine, defaults: RetrievalWeights, memory: Any) -> LearnedWeights:
    """The learned weights on `engine` with the rule of the memory settings
    (weights_rate, weights_bound; total drift 3·log(bound))."""
    bound = float(memory.weights_bound)
    rule = LearningRule(rate=float(memory.weights_rate), bound=bound,
                        drift=3.0 * math.log(bound))
    return LearnedWeights.on(engine, defaults, rule)

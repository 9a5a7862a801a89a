"""The registry of model versions: LoRA adapter versions with lineage, their promotion into
serving, hot swap and rollback (issue 11, item 7).

A version is one adapter.gguf for a served name "base:adapter" (table `model_versions`), with
its lineage (dataset version, workflow, job, gate report) and a state: candidate → serving →
retired, or refused (its gate said so). `promote` verifies the file (the SHA-256 recorded when
it was added must match, and llama.cpp must load it against the serving base), then makes
"base:adapter" routable in the models registry (cerebra.models.registry: hot swap, requests
in flight finish on the old version) and records the action in `model_promotions`. A version
whose gate report said refuse is refused unless `force=True` (recorded). `rollback(name)`
restores the version that served before the current one was promoted, or the plain base
(served under the adapter's name, so clients of that name keep getting answers) when there
was none; a previous version that no longer verifies is skipped for the base, and said so.

Serving default: the base name keeps serving the plain base; an adapter is only ever served
under its own "base:adapter" name (a client, or the router given that name as a candidate,
chooses it). Served names are global to the process (the model catalog is), so a name one
tenant serves cannot be promoted by another (409). `restore()` re-registers what served
before a restart.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, update

from cerebra.context import RequestContext
from cerebra.db.improve_tables import model_promotions, model_versions
from cerebra.errors import CerebraError, Conflict, InvalidInput, ModelVerificationError, NotFound
from cerebra.ids import new_id
from cerebra.models.adapters import AdapterBackend
from cerebra.models.registry import ModelRegistry as ModelsRegistry
from cerebra.models.registry import wrapped_by
from cerebra.models.weights import sha256_file

__all__ = ["ModelRegistry", "ModelVersion", "Promotion", "PromotionRefused", "served_name"]

_ADAPTER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SWAP = threading.Lock()  # one promotion or rollback at a time in this process

GateDecision = Callable[[RequestContext, str], "str | None"]  # report id → promote|refuse


class PromotionRefused(CerebraError):
    """The version's gate report said refuse (promote it with force to override). HTTP 409."""

    status_code = 409
    code = "promotion_refused"


@dataclass(frozen=True)
class ModelVersion:
    id: str
    name: str
    base: str
    adapter: str
    path: str
    sha256: str
    state: str
    created_at: float
    dataset_version_id: str | None = None
    workflow: dict[str, Any] | None = None
    job_id: str | None = None
    gate_report_id: str | None = None
    promoted_at: float | None = None
    retired_at: float | None = None
    notes: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Promotion:
    id: int
    name: str
    action: str  # promote | deploy | rollback
    from_version: str | None
    to_version: str | None
    actor: str
    reason: str
    report_id: str | None
    forced: bool
    at: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def served_name(base: str, adapter: str) -> str:
    return f"{base}:{adapter}"


def _version(row: Any) -> ModelVersion:
    m = row._mapping
    return ModelVersion(**{k: m[k] for k in ModelVersion.__dataclass_fields__})


def _actor(context: RequestContext) -> str:
    if context.principal is not None:
        return context.principal.label()
    return context.user_id or "library"


def gate_store_decision(engine: Engine) -> GateDecision:
    """The decision ("promote" | "refuse") of the tenant's stored gate report
    (cerebra.improve.gate_store.GateStore); an unknown report id is NotFound."""

    def decision(context: RequestContext, report_id: str) -> str | None:
        from cerebra.improve.gate_store import GateStore

        value = GateStore(engine).get(context, report_id).get("decision")  # 404 if unknown
        return None if value is None else str(value)

    return decision


class ModelRegistry:
    """Model versions of the tenant in each call's context; see the module docstring."""

    def __init__(self, engine: Engine, models_registry: ModelsRegistry, *,
                 gate_decision: GateDecision | None = None) -> None:
        self.engine = engine
        self.models = models_registry
        self.gate_decision = gate_decision or gate_store_decision(engine)

    # -- versions ------------------------------------------------------------------------

    def add_candidate(self, context: RequestContext, base: str, adapter_name: str,
                      gguf_path: Path | str, lineage: Mapping[str, Any] | None = None
                      ) -> ModelVersion:
        """Record an adapter version (state candidate) with the file's SHA-256 now."""
        if not base or ":" in base or len(base) > 160:
            raise InvalidInput("base must be a model name without ':'", field="base")
        if not _ADAPTER.match(adapter_name):
            raise InvalidInput("adapter name: letters, digits, '.', '_', '-' (1–64, first a "
                               "letter or digit)", field="adapter")
        path = Path(gguf_path).expanduser().resolve()
        if not path.is_file():
            raise NotFound(f"adapter file {path} does not exist", field="path")
        lineage = dict(lineage or {})
        version = ModelVersion(
            id=new_id(), name=served_name(base, adapter_name), base=base,
            adapter=adapter_name, path=str(path), sha256=sha256_file(path),
            state="candidate", created_at=time.time(),
            dataset_version_id=_opt(lineage.get("dataset_version_id")),
            workflow=lineage.get("workflow"), job_id=_opt(lineage.get("job_id")),
            gate_report_id=_opt(lineage.get("gate_report_id")),
            notes=str(lineage.get("notes", "")))
        with self.engine.begin() as conn:
            conn.execute(insert(model_versions).values(
                tenant_id=context.tenant_id, **version.to_dict()))
        return version

    def get(self, context: RequestContext, version_id: str) -> ModelVersion:
        with self.engine.connect() as conn:
            row = conn.execute(select(model_versions).where(
                model_versions.c.tenant_id == context.tenant_id,
                model_versions.c.id == version_id)).first()
        if row is None:
            raise NotFound(f"unknown model version {version_id!r}", field="version_id")
        return _version(row)

    def versions(self, context: RequestContext, name: str | None = None) -> list[ModelVersion]:
        """The tenant's versions (of `name`), newest first."""
        query = select(model_versions).where(model_versions.c.tenant_id == context.tenant_id)
        if name:
            query = query.where(model_versions.c.name == name)
        query = query.order_by(model_versions.c.created_at.desc(), model_versions.c.id.desc())
        with self.engine.connect() as conn:
            return [_version(r) for r in conn.execute(query)]

    def serving(self, context: RequestContext, name: str) -> ModelVersion | None:
        """The version serving `name` now (None: none, or the plain base after a rollback)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(model_versions).where(
                model_versions.c.tenant_id == context.tenant_id,
                model_versions.c.name == name, model_versions.c.state == "serving")).first()
        return None if row is None else _version(row)

    def history(self, context: RequestContext, name: str) -> list[Promotion]:
        """Promotions, deployments and rollbacks of `name`, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(model_promotions).where(
                model_promotions.c.tenant_id == context.tenant_id,
                model_promotions.c.name == name).order_by(model_promotions.c.id))
            return [Promotion(**{k: r._mapping[k] for k in Promotion.__dataclass_fields__})
                    for r in rows]

    def record_gate(self, context: RequestContext, version_id: str, report_id: str,
                    decision: str) -> ModelVersion:
        """Attach a gate report; a "refuse" decision marks a candidate refused."""
        version = self.get(context, version_id)
        values: dict[str, Any] = {"gate_report_id": report_id}
        if decision == "refuse" and version.state == "candidate":
            values["state"] = "refused"
        with self.engine.begin() as conn:
            conn.execute(update(model_versions).where(
                model_versions.c.tenant_id == context.tenant_id,
                model_versions.c.id == version_id).values(**values))
        return self.get(context, version_id)

    # -- serving -------------------------------------------------------------------------

    def promote(self, context: RequestContext, version_id: str, *, report_id: str | None = None,
                force: bool = False, reason: str = "", action: str = "promote"
                ) -> ModelVersion:
        """Verify and serve `version_id` as its "base:adapter" name (see the module
        docstring); the version it replaces is retired and kept for rollback."""
        with _SWAP:
            version = self.get(context, version_id)
            if version.state == "serving":  # already: served here too (a fresh process)
                if version.name not in self.models:
                    self._serve(version.name, self._verified_view(version))
                return version
            report_id = report_id or version.gate_report_id
            decision = self.gate_decision(context, report_id) if report_id else None
            refused = version.state == "refused" or decision == "refuse"
            if refused and not force:
                raise PromotionRefused(
                    f"version {version_id} was refused by its gate"
                    f"{f' (report {report_id})' if report_id else ''}; promote it with "
                    "force to override", field="version_id")
            self._check_name_free(context, version.name)
            view = self._verified_view(version)
            previous = self.serving(context, version.name)
            now = time.time()
            with self.engine.begin() as conn:
                if previous is not None:
                    self._set_state(conn, context, previous.id, "retired", retired_at=now)
                self._set_state(conn, context, version.id, "serving", promoted_at=now,
                                retired_at=None,
                                **({"gate_report_id": report_id} if report_id else {}))
                self._record(conn, context, version.name, action,
                             previous.id if previous else None, version.id, reason,
                             report_id, force and refused)
            self._serve(version.name, view)
            return self.get(context, version_id)

    def deploy(self, context: RequestContext, base: str, adapter_name: str,
               gguf_path: Path | str, lineage: Mapping[str, Any] | None = None, *,
               force: bool = False, reason: str = "") -> ModelVersion:
        """Add a version and promote it at once (recorded as "deploy")."""
        version = self.add_candidate(context, base, adapter_name, gguf_path, lineage)
        return self.promote(context, version.id, force=force, reason=reason, action="deploy")

    def rollback(self, context: RequestContext, name: str, *, reason: str = ""
                 ) -> ModelVersion | None:
        """Serve what served `name` before its current version (None: the plain base)."""
        with _SWAP:
            current = self.serving(context, name)
            if current is None:
                raise Conflict(f"{name!r} serves no adapter version of this tenant: nothing "
                               "to roll back", field="name")
            target = self._previous(context, current)
            view: AdapterBackend | None = None
            if target is not None:
                try:
                    view = self._verified_view(target)
                except CerebraError as exc:  # the previous file changed or is gone
                    reason = (f"{reason}; " if reason else "") + (
                        f"previous version {target.id} failed verification ({exc}): the base")
                    target = None
            if view is None:
                view = AdapterBackend(self.models, current.base, name, None, None)
            now = time.time()
            with self.engine.begin() as conn:
                self._set_state(conn, context, current.id, "retired", retired_at=now)
                if target is not None:
                    self._set_state(conn, context, target.id, "serving", promoted_at=now,
                                    retired_at=None)
                self._record(conn, context, name, "rollback", current.id,
                             target.id if target else None, reason, None, False)
            self._serve(name, view)
            return None if target is None else self.get(context, target.id)

    def restore(self) -> list[str]:
        """Re-register every tenant's served names after a restart (the serving versions,
        and the plain base where the last action rolled back to it); the names restored.
        A version that no longer verifies is left out (logged by the caller)."""
        served: list[str] = []
        with self.engine.connect() as conn:
            rows = conn.execute(select(model_versions).where(
                model_versions.c.state == "serving")).all()
            last = conn.execute(select(model_promotions).order_by(
                model_promotions.c.id)).all()
        for row in rows:
            version = _version(row)
            if self._served_key(version.name) == version.id:
                served.append(version.name)  # already what serves (sync: nothing to do)
                continue
            try:
                self._serve(version.name, self._verified_view(version))
            except CerebraError:
                continue
            served.append(version.name)
        latest = {r._mapping["name"]: r._mapping for r in last}
        for name, promo in latest.items():
            if promo["to_version"] is None and name not in served:
                base = name.split(":", 1)[0]
                if base in self.models:
                    if name not in self.models or self._served_key(name) is not None:
                        self._serve(name, AdapterBackend(self.models, base, name, None,
                                                         None))
                    served.append(name)
        return sorted(served)

    def sync(self) -> list[str]:
        """Serve what the database says serves wherever this process serves something else
        — a promotion or rollback made by another process (a Celery worker's cycle, another
        server, the CLI) — and leave the rest untouched; the names served. Called
        periodically by the server (cerebra.improve.setup)."""
        with _SWAP:
            return self.restore()

    def _served_key(self, name: str) -> str | bool | None:
        """The version id this process serves under `name` (None: the plain base under the
        adapter's name; False: nothing, or not an adapter view)."""
        if name not in self.models:
            return False
        backend: Any = self.models.get(name)
        for _ in range(16):
            if isinstance(backend, AdapterBackend):
                return backend.key
            backend = getattr(backend, "inner", None)
        return False

    # -- internals -----------------------------------------------------------------------

    def _previous(self, context: RequestContext, current: ModelVersion) -> ModelVersion | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(model_promotions.c.from_version).where(
                model_promotions.c.tenant_id == context.tenant_id,
                model_promotions.c.name == current.name,
                model_promotions.c.to_version == current.id,
                model_promotions.c.action.in_(("promote", "deploy")),
            ).order_by(model_promotions.c.id.desc())).first()
        if row is None or row[0] is None:
            return None
        return self.get(context, row[0])

    def _check_name_free(self, context: RequestContext, name: str) -> None:
        with self.engine.connect() as conn:
            other = conn.execute(select(model_versions.c.tenant_id).where(
                model_versions.c.name == name, model_versions.c.state == "serving",
                model_versions.c.tenant_id != context.tenant_id)).first()
        if other is not None:
            raise Conflict(f"model name {name!r} is served by another tenant", field="name")
        if name in self.models and not wrapped_by(self._backend(name), AdapterBackend):
            raise Conflict(f"model name {name!r} is a catalog model, not an adapter",
                           field="name")

    def _backend(self, name: str) -> Any:
        return dict(self.models.items()).get(name)

    def _verified_view(self, version: ModelVersion) -> AdapterBackend:
        """The served view of `version`, its file checked and loaded on the base; raises
        (serving unchanged) when the file changed, is gone or does not load."""
        path = Path(version.path)
        if not path.is_file():
            raise ModelVerificationError(f"adapter file {path} of version {version.id} does "
                                         "not exist", field="path")
        actual = sha256_file(path)
        if actual != version.sha256:
            raise ModelVerificationError(
                f"adapter file {path} of version {version.id} changed since it was added "
                f"(sha256 {actual[:12]}…, recorded {version.sha256[:12]}…)", field="path")
        if version.base not in self.models:
            raise NotFound(f"base model {version.base!r} is not served", field="base")
        view = AdapterBackend(self.models, version.base, version.name, version.id, path)
        view.prepare()  # llama.cpp loads it against the base, or ModelVerificationError
        return view

    def _serve(self, name: str, view: AdapterBackend) -> None:
        if name in self.models:
            self.models.replace(name, view, close=True)  # the old view unloads once idle
        else:
            self.models.add(view, name=name)

    def _set_state(self, conn: Any, context: RequestContext, version_id: str, state: str,
                   **values: Any) -> None:
        conn.execute(update(model_versions).where(
            model_versions.c.tenant_id == context.tenant_id,
            model_versions.c.id == version_id).values(state=state, **values))

    def _record(self, conn: Any, context: RequestContext, name: str, action: str,
                from_version: str | None, to_version: str | None, reason: str,
                report_id: str | None, forced: bool) -> None:
        conn.execute(insert(model_promotions).values(
            tenant_id=context.tenant_id, name=name, action=action, from_version=from_version,
            to_version=to_version, actor=_actor(context), reason=reason[:2000],
            report_id=report_id, forced=forced, at=time.time()))


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)

"""Model versions over HTTP: deploy (promote a version, or add and promote an adapter file),
roll back, list versions — /api/v1/models/... (cerebra.improve.registry holds the logic).

Deploying and rolling back need models:deploy; listing needs models:read. Another tenant's
version id is not found (404); a refused gate is 409 unless `force`; a file that changed
since it was added or does not load on the base is 422 with serving unchanged. An adapter
file named by path must lie under a model directory (catalog.model_dirs, CEREBRA_HOME).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cerebra.auth.principal import Scope
from cerebra.brain import Brain
from cerebra.context import RequestContext
from cerebra.errors import NotFound
from cerebra.governance.audit_setup import record_action
from cerebra.improve.registry import ModelRegistry, ModelVersion
from cerebra.models.catalog_policy import EntryRefused
from cerebra.server.auth import requires
from cerebra.server.deps import get_brain
from cerebra.server.openapi_doc import error_response

router = APIRouter(prefix="/api/v1/models", tags=["models"])

SERVED = r"^[A-Za-z0-9][A-Za-z0-9_.@+/-]{0,159}:[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
BASE = r"^[A-Za-z0-9][A-Za-z0-9_.@+/-]{0,159}$"
ADAPTER = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
VERSION_ID = r"^[0-9a-f]{32}$"
_SWAPS: dict[int | str, dict[str, Any]] = {
    502: error_response(502, "the base model failed while loading the adapter")}


def _one_way_schema(schema: dict[str, Any]) -> None:
    """The body's rule in its schema: version_id alone, or path with base and name."""
    absent = {"type": "null"}
    schema["oneOf"] = [
        {"required": ["version_id"], "properties": {
            "version_id": {"type": "string", "pattern": VERSION_ID},
            "path": absent, "base": absent, "name": absent}},
        {"required": ["path", "base", "name"], "properties": {
            "version_id": absent, "path": {"type": "string", "minLength": 1},
            "base": {"type": "string", "pattern": BASE},
            "name": {"type": "string", "pattern": ADAPTER}}},
    ]


class DeployIn(BaseModel):
    """Promote `version_id`, or add the adapter at `path` for `base` as `name` and promote
    it. `force` overrides a gate that refused (recorded)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_one_way_schema)

    version_id: str | None = Field(default=None, pattern=VERSION_ID)
    path: str | None = Field(default=None, min_length=1, max_length=4096,
                             description="an adapter.gguf under a model directory")
    base: str | None = Field(default=None, pattern=BASE)
    name: str | None = Field(default=None, pattern=ADAPTER, description="the adapter's name")
    report_id: str | None = Field(default=None, min_length=1, max_length=64)
    force: bool = False
    reason: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _one_way(self) -> DeployIn:
        by_file = (self.path, self.base, self.name)
        if self.version_id is not None and any(v is not None for v in by_file):
            raise ValueError("give version_id, or path with base and name, not both")
        if self.version_id is None and any(v is None for v in by_file):
            raise ValueError("give version_id, or path with base and name")
        return self


class RollbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=2000)


def get_registry(brain: Brain = Depends(get_brain)) -> ModelRegistry:
    return ModelRegistry(brain.engine, brain.models)


def _allowed_file(brain: Brain, raw: str) -> Path:
    """`raw` as an absolute path under a model directory or CEREBRA_HOME, or 403."""
    path = Path(raw).expanduser()
    if not path.is_absolute():
        raise EntryRefused("path must be absolute, under a model directory", field="path")
    dirs = [Path(brain.settings.home).expanduser().resolve()]
    if brain.catalog is not None:
        dirs += list(brain.catalog.policy.model_dirs)
    real = path.resolve()
    if not any(real == d or real.is_relative_to(d) for d in dirs):
        raise EntryRefused("path is not under a model directory (catalog.model_dirs) or "
                           "CEREBRA_HOME", field="path")
    return real


def _row(version: ModelVersion | None) -> dict[str, Any] | None:
    return None if version is None else version.to_dict()


@router.post("/deploy", responses=_SWAPS)
async def deploy(
    body: DeployIn,
    ctx: RequestContext = Depends(requires(Scope.MODELS_DEPLOY)),
    brain: Brain = Depends(get_brain),
    registry: ModelRegistry = Depends(get_registry),
) -> dict[str, Any]:
    """Serve a version as "base:adapter" (hot swap; the replaced version is kept for
    rollback)."""
    target = body.version_id or f"{body.base}:{body.name}"
    try:
        if body.version_id is not None:
            version = await asyncio.to_thread(
                registry.promote, ctx, body.version_id, report_id=body.report_id,
                force=body.force, reason=body.reason)
        else:
            assert body.path is not None and body.base is not None and body.name is not None
            path = _allowed_file(brain, body.path)
            version = await asyncio.to_thread(
                registry.deploy, ctx, body.base, body.name, path,
                {"gate_report_id": body.report_id}, force=body.force, reason=body.reason)
    except Exception as exc:
        record_action(brain.audit, ctx, "model.deploy", target, outcome="refused",
                      details={"error": str(exc)[:500]})
        raise
    record_action(brain.audit, ctx, "model.deploy", version.name,
                  details={"version": version.id, "forced": body.force})
    return {"serving": version.name, "version": version.to_dict()}


@router.post("/{name}/rollback", responses=_SWAPS)
async def rollback(
    name: Annotated[str, PathParam(pattern=SERVED)],
    body: RollbackIn | None = None,
    ctx: RequestContext = Depends(requires(Scope.MODELS_DEPLOY)),
    brain: Brain = Depends(get_brain),
    registry: ModelRegistry = Depends(get_registry),
) -> dict[str, Any]:
    """Serve what served `name` before its current version (the plain base if nothing)."""
    reason = body.reason if body is not None else ""
    if not registry.versions(ctx, name):
        raise NotFound(f"no versions of {name!r}", field="name")
    version = await asyncio.to_thread(registry.rollback, ctx, name, reason=reason)
    record_action(brain.audit, ctx, "model.rollback", name,
                  details={"to": version.id if version else "base"})
    return {"serving": name, "version": _row(version), "base": version is None}


@router.get("/versions")
def versions(
    ctx: RequestContext = Depends(requires(Scope.MODELS_READ)),
    registry: ModelRegistry = Depends(get_registry),
    name: Annotated[str | None, Query(pattern=SERVED)] = None,
) -> dict[str, Any]:
    """The tenant's versions (of `name`), newest first, and each name's promotion history."""
    rows = registry.versions(ctx, name)
    names = sorted({v.name for v in rows})
    return {"versions": [v.to_dict() for v in rows],
            "history": {n: [p.to_dict() for p in registry.history(ctx, n)] for n in names}}

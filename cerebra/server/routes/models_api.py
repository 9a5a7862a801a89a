"""Model catalog API: /api/models — list with health, add or hot-swap, remove, reload.

Entries sent here go through `Catalog.submit`: no `${VAR}` expansion, no `api_key_env`, files
only under the model directories, hosts only from catalog.allowed_hosts. The listing shows no
keys and no environment-derived URLs or folders. The default model cannot be removed until
another model is the default (409)."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends

from cerebra.auth.principal import Scope
from cerebra.brain import Brain
from cerebra.context import RequestContext
from cerebra.errors import CerebraError, InvalidInput, NotFound
from cerebra.governance.audit_setup import record_action
from cerebra.models.catalog import Catalog
from cerebra.server.auth import requires
from cerebra.server.deps import get_brain

router = APIRouter(prefix="/api/models", tags=["models"])


async def get_catalog(brain: Brain = Depends(get_brain)) -> Catalog:
    if brain.catalog is None:
        raise NotFound("this server has no model catalog", field="catalog")
    return brain.catalog


@router.get("", dependencies=[Depends(requires(Scope.MODELS_READ))])
def list_models(
    brain: Brain = Depends(get_brain), catalog: Catalog = Depends(get_catalog)
) -> dict[str, Any]:
    return {
        "default": brain.models.default_name,
        "models": [asdict(s) for s in brain.models.status()],
        "catalog": catalog.describe(),
        "failures": brain.models.failures(),
    }


@router.post("", status_code=201)
async def add_model(
    spec: dict[str, Any],
    ctx: RequestContext = Depends(requires(Scope.MODELS_ADMIN)),  # first: 401/403 before 404
    brain: Brain = Depends(get_brain), catalog: Catalog = Depends(get_catalog),
) -> dict[str, Any]:
    """Add a model, or hot-swap the one with the same name (requests in flight finish)."""
    name = str(spec.get("name", ""))
    action = "model.swap" if name in brain.models else "catalog.change"
    try:
        backend = await asyncio.to_thread(catalog.submit, spec)
    except CerebraError as exc:
        record_action(brain.audit, ctx, action, name, outcome="refused",
                      details={"op": "add", "error": str(exc)})
        raise
    record_action(brain.audit, ctx, action, name, details={"op": "add", "fields": sorted(spec)})
    return {"name": backend.name, "status": "serving"}


@router.delete("/{name}")
def remove_model(
    name: str,
    ctx: RequestContext = Depends(requires(Scope.MODELS_ADMIN)),
    brain: Brain = Depends(get_brain), catalog: Catalog = Depends(get_catalog),
) -> dict[str, str]:
    if name not in brain.models:
        raise NotFound(f"unknown model {name!r}", field="name")
    if brain.router is not None and name == brain.router.name:
        raise InvalidInput("the router is configured by settings, not the catalog", field="name")
    catalog.remove(name)
    record_action(brain.audit, ctx, "catalog.change", name, details={"op": "remove"})
    return {"removed": name}


@router.post("/reload")
async def reload_models(
    ctx: RequestContext = Depends(requires(Scope.MODELS_ADMIN)),
    brain: Brain = Depends(get_brain), catalog: Catalog = Depends(get_catalog),
) -> dict[str, Any]:
    """Re-read CEREBRA_MODELS_FILE: changed entries hot-swap, others keep serving. Without a
    models file there is nothing to reload: 404, like a feature that is off."""
    path = brain.settings.catalog.file
    if path is None:
        raise NotFound("this server has no models file (CEREBRA_MODELS_FILE is not set)",
                       field="models_file")
    report = await asyncio.to_thread(catalog.load_file, path)
    record_action(brain.audit, ctx, "catalog.change", str(path), details={
        "op": "reload", "loaded": report.loaded, "removed": report.removed,
        "errors": len(report.errors)})
    return {
        "loaded": report.loaded,
        "unchanged": report.unchanged,
        "removed": report.removed,
        "errors": [str(e) for e in report.errors],
    }

"""Kits API: GET /api/v1/kits/browse (the kits a tenant can use), GET /api/v1/kits/{name}
(one kit with a sample prompt) and POST /api/v1/kits/install.

A tenant sees the built-in kits, the kits the operator installed (`cerebra kits install`,
under <home>/kits) and its own; another tenant's kit is a 404 like one that never existed.
Installing takes an entry point name (group "cerebra.kits": packages the operator installed)
or a folder on the server, and only a folder under an allowed root: `<home>/kits-inbox` and
the roots in `app.state.kit_roots` (an operator's list). Paths are resolved (links followed,
`..` removed) before the check, so nothing outside those roots can be read; only the kit's
own four files are copied. Logic lives in cerebra.kits.registry.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from cerebra.auth.principal import Scope
from cerebra.context import RequestContext
from cerebra.errors import Forbidden, NotFound
from cerebra.kits.kit import NAME_PATTERN
from cerebra.kits.registry import get_kit, install, known_kits
from cerebra.server.auth import requires
from cerebra.server.openapi_doc import error_response

router = APIRouter(prefix="/api/v1/kits", tags=["kits"])


class KitSummaryOut(BaseModel):
    name: str
    task: str
    description: str
    version: str
    checker: str
    train_items: int
    eval_items: int
    content_hash: str
    max_tokens: int
    workflow: dict[str, Any]
    source: str
    origin: str  # builtin | installed (by the operator) | tenant (by this tenant)


class KitListOut(BaseModel):
    kits: list[KitSummaryOut]


class KitOut(KitSummaryOut):
    prompt_template: str
    stop: list[str]
    prompt_example: str
    reference_example: str | None


class InstallIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=1000,
                        description="an entry point name in the group cerebra.kits, or a "
                                    "kit folder under an allowed root on the server")
    replace: bool = Field(False, description="replace this tenant's kit of the same name")


def kits_home(request: Request) -> Path:
    home = getattr(request.app.state, "kits_home", None)
    return Path(home) if home is not None else Path(request.app.state.brain.settings.home)


def allowed_roots(request: Request) -> list[Path]:
    roots = [kits_home(request) / "kits-inbox"]
    roots += [Path(r) for r in getattr(request.app.state, "kit_roots", None) or []]
    return [r.resolve() for r in roots]


def _entry_point_name(source: str) -> bool:
    return "/" not in source and "\\" not in source and not source.startswith(".")


def _checked_source(source: str, roots: list[Path]) -> str | Path:
    """An entry point name as it is, or a folder resolved and checked against the roots."""
    if _entry_point_name(source):
        return source
    path = Path(source)
    if not path.is_absolute():
        raise Forbidden("a kit folder must be an absolute path under an allowed root",
                        field="source")
    resolved = path.resolve()
    if not any(resolved.is_relative_to(root) for root in roots):
        raise Forbidden("kit folders are installed only from under the allowed roots "
                        "(<home>/kits-inbox and the operator's list)", field="source")
    if not resolved.is_dir():
        raise NotFound("no kit folder there", field="source")
    return resolved


def _detail(home: Path, tenant: str, name: str) -> dict[str, Any]:
    kit = get_kit(name, home, tenant=tenant)
    origin = next(o for k, o in known_kits(home, tenant=tenant) if k.name == name)
    sample = kit.eval[0]
    return {**kit.summary(), "origin": origin, "prompt_template": kit.spec.prompt_template,
            "stop": kit.spec.stop, "prompt_example": kit.prompt(sample),
            "reference_example": sample.reference}


@router.get("/browse", response_model=KitListOut)
async def browse(request: Request,
                 ctx: RequestContext = Depends(requires(Scope.TRAINING_READ))) -> dict[str, Any]:
    """The kits this tenant can use: built-in, installed by the operator, and its own."""
    home = kits_home(request)
    found = await asyncio.to_thread(known_kits, home, tenant=ctx.tenant_id)
    return {"kits": [{**kit.summary(), "origin": origin} for kit, origin in found]}


@router.get("/{name}", response_model=KitOut,
            responses={404: error_response(404, "no kit of this name that the tenant can use")})
async def show_kit(request: Request,
                   name: str = PathParam(..., max_length=64, pattern=NAME_PATTERN),
                   ctx: RequestContext = Depends(requires(Scope.TRAINING_READ))
                   ) -> dict[str, Any]:
    """One kit: counts, checker, workflow defaults, its template and a sample prompt."""
    return await asyncio.to_thread(_detail, kits_home(request), ctx.tenant_id, name)


@router.post("/install", response_model=KitOut,
             responses={404: error_response(404, "no such folder or entry point"),
                        409: error_response(409, "the name is a built-in kit's, or installed "
                                                 "already without replace"),
                        422: error_response(422, "the kit does not validate (the message "
                                                 "names the file, line and key)")})
async def install_kit(body: InstallIn, request: Request,
                      ctx: RequestContext = Depends(requires(Scope.TRAINING_WRITE))
                      ) -> dict[str, Any]:
    """Validate a kit and install it for this tenant, all or nothing. 403 for a folder
    outside the allowed roots."""
    home = kits_home(request)
    source = _checked_source(body.source, allowed_roots(request))
    kit = await asyncio.to_thread(install, source, home, tenant=ctx.tenant_id,
                                  replace=body.replace, allow_paths=False)
    return await asyncio.to_thread(_detail, home, ctx.tenant_id, kit.name)

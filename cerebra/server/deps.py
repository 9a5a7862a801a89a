"""FastAPI dependencies: the app's Brain, Settings and Metrics (built once at start-up) and
each request's RequestContext.

They are `async def` on purpose: FastAPI runs a plain `def` dependency in its thread pool,
a thread hop per dependency per request (measured on the gateway with memory off).
"""

from __future__ import annotations

from fastapi import Request

from cerebra.brain import Brain
from cerebra.config import Settings
from cerebra.context import DEFAULT_TENANT, RequestContext
from cerebra.observability.metrics import Metrics


async def get_brain(request: Request) -> Brain:
    brain: Brain = request.app.state.brain
    return brain


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


async def get_request_context(request: Request) -> RequestContext:
    """The request's context, built once per request.

    The tenant and principal come from authentication (the security issue fills them from
    the caller's credentials); until then every caller is anonymous in the default tenant.
    Routes add the user / agent / session their body names with `context.with_(…)`. A
    tenant is never taken from a query parameter or a body field.
    """
    cached = getattr(request.state, "cerebra_context", None)
    if isinstance(cached, RequestContext):
        return cached
    context = RequestContext(tenant_id=DEFAULT_TENANT)
    request.state.cerebra_context = context
    return context

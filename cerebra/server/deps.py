"""FastAPI dependencies: the app's Brain, Settings and Metrics (built once at start-up) and
each request's RequestContext (with its principal: cerebra.server.auth).

They are `async def` on purpose: FastAPI runs a plain `def` dependency in its thread pool,
a thread hop per dependency per request (measured on the gateway with memory off).
"""

from __future__ import annotations

from fastapi import Request

from cerebra.brain import Brain
from cerebra.config import Settings
from cerebra.observability.metrics import Metrics
from cerebra.server.auth import Authenticator, authenticator_of, request_context


async def get_brain(request: Request) -> Brain:
    brain: Brain = request.app.state.brain
    return brain


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


async def get_authenticator(request: Request) -> Authenticator:
    return authenticator_of(request.app)


get_request_context = request_context  # the dependency tests override to pose as a caller

"""The HTTP app factory: create_app() wires settings, the Brain (loaded once), routes,
metrics and error handling."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from cerebra.brain import Brain
from cerebra.config import Settings, get_settings
from cerebra.observability.metrics import MeteredBackend, Metrics
from cerebra.server.errors import install_error_handlers
from cerebra.server.middleware import MetricsMiddleware

log = logging.getLogger("cerebra.server")


def _meter(brain: Brain, metrics: Metrics) -> None:
    """Wrap every registered model so generations are metered."""
    for name, backend in brain.models.items():
        if not isinstance(backend, MeteredBackend):
            brain.models.replace(name, MeteredBackend(backend, metrics))


def create_app(settings: Settings | None = None, *, brain: Brain | None = None) -> FastAPI:
    """Build the app. The Brain (and so the model) loads once at start-up, not per request."""
    settings = settings or get_settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = app.state.brain is None
        if owned:
            app.state.brain = Brain.from_settings(settings)
        _meter(app.state.brain, metrics)
        app.state.started_at = time.time()
        log.info("ready", extra={"models": app.state.brain.models.names()})
        try:
            yield
        finally:
            if owned:
                app.state.brain.close()

    app = FastAPI(
        title="Cerebra",
        version="0.1.0",
        description="Self-hosted LLM runtime: memory, routing, judging, audit.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.brain = brain
    app.state.started_at = time.time()
    install_error_handlers(app)
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    from cerebra.server.routes import health, memory, openai_compat, query

    app.include_router(health.router)
    app.include_router(query.router)
    app.include_router(memory.router)
    app.include_router(openai_compat.router)
    return app

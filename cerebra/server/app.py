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
from cerebra.models.base import ModelBackend
from cerebra.models.registry import wrapped_by
from cerebra.observability.admission_metrics import AdmissionCollector
from cerebra.observability.metrics import MeteredBackend, Metrics
from cerebra.server.auth import authenticator_of
from cerebra.server.direct_chat import DirectChatRoute
from cerebra.server.errors import install_error_handlers
from cerebra.server.hardening import HardeningMiddleware
from cerebra.server.middleware import install_metrics
from cerebra.server.openapi_doc import install_openapi

log = logging.getLogger("cerebra.server")


def _meter(brain: Brain, metrics: Metrics) -> None:
    """Wrap every registered model, present and future, so generations are metered."""

    def wrap(name: str, backend: ModelBackend | None) -> None:
        if backend is not None and not wrapped_by(backend, MeteredBackend):
            brain.models.replace(name, MeteredBackend(backend, metrics))

    for name, backend in brain.models.items():
        wrap(name, backend)
    brain.models.subscribe(
        lambda event, name, b: wrap(name, b) if event in ("added", "replaced") else None
    )


async def _close_async_clients(brain: Brain) -> None:
    """Close the per-loop async HTTP sessions of remote backends before the loop ends."""
    for _, backend in brain.models.items():
        layer: object | None = backend
        for _ in range(16):  # through wrappers (metering, cache) to the backend itself
            if layer is None:
                break
            closer = getattr(type(layer), "aclose", None)
            if closer is not None:
                try:
                    await closer(layer)
                except Exception:  # closing must not break shutdown
                    log.exception("closing %s failed", getattr(layer, "name", "?"))
                break
            layer = getattr(layer, "inner", None)


def _start_health(app: FastAPI, brain: Brain, settings: Settings) -> None:
    if settings.health.interval_s <= 0:
        app.state.health = None
        return
    from cerebra.models.health import HealthMonitor

    monitor = HealthMonitor(
        brain.models,
        interval_s=settings.health.interval_s,
        unhealthy_after=settings.health.unhealthy_after,
        runner=brain.jobs,  # the Brain's job runner; a private one for a hand-built Brain
    )
    monitor.start()
    app.state.health = monitor


def _start_improve(app: FastAPI, brain: Brain, settings: Settings) -> None:
    """The self-improvement layer (issue 11): promoted adapters served again, the loop's
    jobs named on the Brain's runner, the retraining triggers checked periodically."""
    app.state.improve = None
    if not settings.improve.enabled or brain.jobs is None:
        return
    from cerebra.improve.setup import attach_improvement

    app.state.improve = attach_improvement(brain, settings)


def create_app(settings: Settings | None = None, *, brain: Brain | None = None) -> FastAPI:
    """Build the app. The Brain (and so the model) loads once at start-up, not per request."""
    settings = settings or get_settings()
    settings.check_secrets()  # the development secret_key signs no token outside dev
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = app.state.brain is None
        if owned:
            app.state.brain = Brain.from_settings(settings)
        _meter(app.state.brain, metrics)
        if not getattr(app.state, "queue_metrics", False):  # once per app: queues, stops
            metrics.registry.register(AdmissionCollector(app.state.brain.models))
            app.state.queue_metrics = True
        from cerebra.observability.usage_metrics import attach_usage_metrics  # issue 13 (7)
        attach_usage_metrics(app.state, app.state.brain, metrics)  # spend, recall, ledger queue
        _start_health(app, app.state.brain, settings)
        _start_improve(app, app.state.brain, settings)
        from cerebra.observability import costs_alerts  # issue 13 (2)
        app.state.costs = costs_alerts.start_alerts(app.state.brain, settings)
        from cerebra.observability.log_setup import attach_logs  # issue 13 (4)
        app.state.logs = attach_logs(app.state.brain, settings)  # log store, memory handler
        from cerebra.observability.drift_setup import attach_drift  # issue 13 (3)
        app.state.drift = attach_drift(app.state.brain, settings, app.state.improve)
        if settings.auth.mode == "off":
            log.warning("AUTHENTICATION IS OFF (CEREBRA_AUTH=off): every caller is an admin")
        authenticator_of(app)
        app.state.started_at = time.time()
        log.info("ready", extra={"models": app.state.brain.models.names()})
        try:
            yield
        finally:
            if app.state.health is not None:
                app.state.health.close()
            costs_alerts.stop_alerts(app.state.brain, app.state.costs)  # budget alerts
            app.state.drift.close()  # the periodic drift check, before its retraining
            if app.state.improve is not None:
                app.state.improve.close()
            app.state.logs.close()
            await _close_async_clients(app.state.brain)
            if owned:
                app.state.brain.close()

    app = FastAPI(
        title="Cerebra",
        version="0.1.0",
        description="Self-hosted LLM runtime: memory, routing, judging, audit.",
        lifespan=lifespan,
        # Cerebra traces requests itself (cerebra.observability.tracing, its own provider);
        # FastAPI's native telemetry would add spans of its own to a global provider and
        # looks up the three global providers on every request even when none is set
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.brain = brain
    app.state.started_at = time.time()
    install_error_handlers(app)
    # the chat route's common case answered directly, inside the headers and body limit
    app.add_middleware(DirectChatRoute, api=app)
    # security headers and the body limit inside the metrics (413s are counted, timed)
    app.add_middleware(HardeningMiddleware, max_body_bytes=settings.server.max_body_bytes)
    from cerebra.observability.log_scope import LogScopeMiddleware  # issue 13 (4)
    app.add_middleware(LogScopeMiddleware)  # each request's lines carry its trace id, tenant
    install_metrics(app, metrics)  # outermost: the overhead header times every layer

    from cerebra.server.routes import (
        admin_api,
        agents_api,
        audit_api,
        auth_api,
        health,
        interactions,
        limits_api,
        memory,
        missions_api,
        models_api,
        openai_compat,
        plugins_api,
        prompts_api,
        query,
        ratings_api,
        router_api,
    )

    app.include_router(health.router)
    app.include_router(auth_api.router)  # public: /token, /auth/revoke, wallet sign-in
    app.include_router(query.router)
    from cerebra.server.routes import memory_graph  # issue 12 (1), before /{memory_id}
    app.include_router(memory_graph.router)  # /api/memory/graph: entities, neighbours, paths
    from cerebra.server.routes import memory_weights  # issue 12 (6), before /{memory_id}
    app.include_router(memory_weights.router)  # /api/memory/weights: show, reset, rollback
    app.include_router(memory.router)
    app.include_router(openai_compat.router)
    app.include_router(router_api.router)
    app.include_router(models_api.router)
    app.include_router(interactions.router)
    app.include_router(admin_api.router)
    app.include_router(limits_api.router)
    app.include_router(audit_api.router)
    app.include_router(plugins_api.router)
    app.include_router(ratings_api.router)
    app.include_router(agents_api.router)
    app.include_router(prompts_api.router)
    app.include_router(missions_api.router)  # /api/missions, /api/teams
    from cerebra.server.routes import improve_api  # issue 11 (H)
    app.include_router(improve_api.router)  # /api/v1/improve: triggers, cycles
    from cerebra.server.routes import kits_api  # issue 11 (F)
    app.include_router(kits_api.router)  # /api/v1/kits/browse, /api/v1/kits/{name}, install
    from cerebra.server.routes import signals_api  # issue 11 (A1)
    app.include_router(signals_api.router)  # /api/v1/traces/{id}/signals, /api/v1/signals
    from cerebra.server.routes import workflows_api  # issue 11 (B)
    app.include_router(workflows_api.router)  # /api/v1/workflows, /api/llm/train, runs
    from cerebra.server.routes import gate_api  # issue 11 (G)
    app.include_router(gate_api.router)  # /api/v1/gate/reports, /api/v1/gate/evaluate
    from cerebra.server.routes import datasets_api  # issue 11 (A2)
    app.include_router(datasets_api.router)  # /api/v1/datasets: upload, export, curate
    from cerebra.server.routes import jobs_api  # issue 11 (C)
    app.include_router(jobs_api.router)  # /api/v1/jobs, /{id}, /{id}/events (SSE), /{id}/cancel
    from cerebra.server.routes import deploy_api  # issue 11 (E)
    app.include_router(deploy_api.router)  # /api/v1/models/deploy, /{name}/rollback, /versions
    from cerebra.server.routes import working_api  # issue 12 (3)
    app.include_router(working_api.router)  # /api/working: session notes, turns
    from cerebra.server.routes import context_api  # issue 12 (5)
    app.include_router(context_api.router)  # /context/evaluate, /context/feedback (bundles)
    from cerebra.server.routes import profile_api  # issue 12 (4)
    app.include_router(profile_api.router)  # /api/users/{id}/profile: show, edit, forget
    from cerebra.server.routes import dashboard  # issue 13 (5)
    app.include_router(dashboard.router)  # /dashboard: the web dashboard's page and files
    from cerebra.server.routes import costs_api  # issue 13 (2)
    app.include_router(costs_api.router)  # /api/costs: summary, forecast, budgets, …
    from cerebra.server.routes import drift_api  # issue 13 (3)
    app.include_router(drift_api.router)  # /api/drift: reports, alerts, check, ab
    from cerebra.server.routes import traces_api  # issue 13 (1)
    app.include_router(traces_api.router)  # /api/traces: kept traces, one trace's span tree
    from cerebra.server.routes import logs_api  # issue 13 (4, 6)
    app.include_router(logs_api.router)  # /logs, /api/system/logs, /api/system/top
    install_openapi(app)  # last: documents the error answers of every route included above
    return app

"""Assembly from Settings: database, models (embedded default + catalog, verified, cached,
routed), embedder and memory.

Kept apart from Brain so that tests and users can build a Brain from their own parts.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from cerebra.config import Settings
from cerebra.db.engine import make_engine
from cerebra.db.migrate import upgrade
from cerebra.models.base import ModelBackend
from cerebra.models.registry import ModelRegistry, wrapped_by

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from cerebra.brain import Brain
    from cerebra.memory.embedders import Embedder
    from cerebra.models.catalog import Catalog
    from cerebra.routing.router import Router

log = logging.getLogger("cerebra.runtime")


def load_default_model(settings: Settings) -> ModelBackend:
    """The configured local model: the packaged Gemma GGUF (verified) or a FakeModel, behind
    the admission queue (bounded, FIFO, 429 when full; see cerebra.models.queued)."""
    from cerebra.models.queued import queue_local

    if settings.fake_model:
        from cerebra.testing import FakeModel

        return queue_local(FakeModel(name=settings.model_name), settings)
    from cerebra.models.llamacpp import LlamaCppBackend
    from cerebra.models.weights import resolve_model_file

    settings.ensure_home()
    path, sha = resolve_model_file(settings.models_dir, settings.model_path, settings.model_sha256)
    backend = LlamaCppBackend(
        path,
        name=settings.model_name,
        expected_sha256=sha,
        n_ctx=settings.n_ctx,
        n_threads=settings.n_threads,
    )
    return queue_local(backend, settings)


def load_embedder(settings: Settings) -> Embedder:
    if settings.embedder == "fake":
        from cerebra.testing import FakeEmbedder

        return FakeEmbedder()
    from cerebra.memory.embedders import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(device=settings.embedder_device)


def memory_backend(engine: Engine) -> Any:
    """The MemoryBackend for the configured database: PostgreSQL (pgvector) or SQLite."""
    if engine.dialect.name == "postgresql":
        from cerebra.memory.postgres import PostgresBackend

        return PostgresBackend(engine)
    from cerebra.memory.sqlite import SQLiteBackend

    return SQLiteBackend(engine)


def build_catalog(settings: Settings, registry: ModelRegistry) -> Catalog:
    """Apply the YAML file and the inline catalog; a bad entry is logged, the rest serve."""
    from cerebra.models.catalog import Catalog
    from cerebra.models.pricing import configure_default_prices
    from cerebra.models.signing import WeightVerifier

    if settings.pricing:
        configure_default_prices(settings.pricing)

    hmac = settings.weights_hmac_key
    verifier = WeightVerifier(
        trusted_keys=settings.trusted_keys,
        hmac_keys=[hmac.get_secret_value()] if hmac else [],
        require_verified=settings.require_verified_weights,
    )
    catalog = Catalog(registry, verifier=verifier)
    reports = []
    if settings.models_file is not None:
        reports.append(catalog.load_file(settings.models_file))
    if settings.models:
        reports.append(catalog.load_text(settings.models, source="env"))
    for report in reports:
        for error in report.errors:
            log.error("model refused: %s", error)
    return catalog


def enable_cache(settings: Settings, registry: ModelRegistry) -> None:
    """Wrap every model, present and future, in the response cache."""
    from cerebra.models.cache import CachedBackend, make_store

    store = make_store(settings.redis_url, max_entries=settings.cache_max_entries)

    def wrap(name: str, backend: ModelBackend | None) -> None:
        if backend is None or wrapped_by(backend, CachedBackend) or name == settings.router_name:
            return
        registry.replace(name, CachedBackend(backend, store, ttl_s=settings.cache_ttl_s))

    for name, backend in registry.items():
        wrap(name, backend)
    registry.subscribe(
        lambda event, name, b: wrap(name, b) if event in ("added", "replaced") else None
    )


def enable_router(settings: Settings, registry: ModelRegistry, engine: Engine) -> Router:
    """A Router over every other model, registered as `router_name`, kept in sync on swaps."""
    from cerebra.routing.policy import RoutePolicy
    from cerebra.routing.router import Router
    from cerebra.routing.state import RouterStore

    shared = None
    if settings.redis_url:  # replicas share learning, cooldowns and policies through Redis
        from cerebra.routing.shared import RedisSharedState

        shared = RedisSharedState(settings.redis_url)

    assert settings.router_strategy is not None
    # members lease the current model per call: a swap never closes one under the router
    members = [registry.member(n) for n, _ in registry.items() if n != settings.router_name]
    router = Router(
        members,
        policy=RoutePolicy(strategy=settings.router_strategy),
        store=RouterStore(engine),
        name=settings.router_name,
        shared=shared,
    )

    def sync(event: str, name: str, backend: ModelBackend | None) -> None:
        if name == settings.router_name:
            return
        if event in ("added", "replaced") and name not in router.backends:
            router.add_backend(registry.member(name))
        elif event == "removed" and name in router.backends:
            router.remove_backend(name)

    registry.subscribe(sync)
    registry.add(router, name=settings.router_name, default=True)
    return router


def build_brain(
    settings: Settings, *, model: ModelBackend | None = None, embedder: Any = None
) -> Brain:
    from cerebra.brain import Brain
    from cerebra.memory.store import MemoryStore

    settings.check_secrets()
    settings.ensure_home()
    engine = make_engine(settings.db_url)
    upgrade(engine)
    registry = ModelRegistry()
    if model is not None or settings.embedded_model:
        registry.add(model or load_default_model(settings), default=True)
    catalog = build_catalog(settings, registry)
    if settings.cache_enabled:
        enable_cache(settings, registry)
    router = enable_router(settings, registry, engine) if settings.router_strategy else None
    memory = MemoryStore(
        memory_backend(engine),
        embedder or load_embedder(settings),
        max_chars=settings.memory_max_chars,
        near_duplicate_threshold=settings.memory_near_duplicate_threshold,
    )
    brain = Brain(models=registry, memory=memory, engine=engine, settings=settings)
    brain.catalog = catalog
    brain.router = router
    return brain


def build_memory_store(settings: Settings, *, embedder: Any = None) -> Any:
    """A MemoryStore on the configured database, without loading any model."""
    from cerebra.memory.store import MemoryStore

    settings.ensure_home()
    engine = make_engine(settings.db_url)
    upgrade(engine)
    return MemoryStore(
        memory_backend(engine),
        embedder or load_embedder(settings),
        max_chars=settings.memory_max_chars,
        near_duplicate_threshold=settings.memory_near_duplicate_threshold,
    )


def build_feedback_brain(settings: Settings) -> Brain:
    """A Brain for recording feedback from the CLI: the database and memory, no model loaded.

    Router learning lives in the serving process; from here only memory salience changes
    (use `cerebra router feedback` or the HTTP API to teach a running router).
    """
    from cerebra.brain import Brain

    store = build_memory_store(settings)
    return Brain(
        models=ModelRegistry(), memory=store, engine=store.backend.engine, settings=settings
    )

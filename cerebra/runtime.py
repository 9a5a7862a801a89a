"""Assembly from Settings: database, models (embedded default + catalog, verified, cached,
routed), embedder and memory.

Kept apart from Brain so that tests and users can build a Brain from their own parts:
`assemble()` returns the parts and `Brain.from_settings()` — the one factory — builds the
Brain over them. This module never imports `cerebra.brain` (no import cycle).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cerebra.config import Settings
from cerebra.db.engine import make_engine
from cerebra.db.migrate import upgrade
from cerebra.jobs.factory import make_runner
from cerebra.memory.configured import load_embedder, memory_backend, retrieval_weights
from cerebra.memory.embed_batching import BatchingEmbedder
from cerebra.models.base import ModelBackend
from cerebra.models.registry import ModelRegistry, wrapped_by

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from cerebra.guards import Guard
    from cerebra.jobs.base import JobRunner
    from cerebra.memory.store import MemoryStore
    from cerebra.models.catalog import Catalog
    from cerebra.models.catalog_policy import EntryPolicy
    from cerebra.plugins.manager import PluginManager
    from cerebra.routing.router import Router
    from cerebra.sinks import Sink

log = logging.getLogger("cerebra.runtime")


def load_default_model(settings: Settings) -> ModelBackend:
    """The configured local model: the packaged Gemma GGUF (verified) or a FakeModel, behind
    the admission queue (bounded, FIFO, 429 when full; see cerebra.models.queued)."""
    from cerebra.models.queued import queue_local

    if settings.model.fake:
        from cerebra.testing import FakeModel

        fake = FakeModel(name=settings.model.name, max_context=settings.model.n_ctx)
        return queue_local(fake, settings)
    from cerebra.models.llamacpp import LlamaCppBackend
    from cerebra.models.weights import resolve_model_file

    settings.ensure_home()
    path, sha = resolve_model_file(
        settings.models_dir, settings.model.path, settings.model.sha256
    )
    backend = LlamaCppBackend(
        path,
        name=settings.model.name,
        expected_sha256=sha,
        n_ctx=settings.model.n_ctx,
        n_threads=settings.model.n_threads,
    )
    return queue_local(backend, settings)


def build_catalog(settings: Settings, registry: ModelRegistry) -> Catalog:
    """Apply the YAML file and the inline catalog; a bad entry is logged, the rest serve."""
    from cerebra.models.catalog import Catalog
    from cerebra.models.pricing import configure_default_prices
    from cerebra.models.signing import WeightVerifier

    if settings.catalog.pricing:
        configure_default_prices(settings.catalog.pricing)

    hmac = settings.catalog.weights_hmac_key
    verifier = WeightVerifier(
        trusted_keys=settings.catalog.trusted_keys,
        hmac_keys=[hmac.get_secret_value()] if hmac else [],
        require_verified=settings.catalog.require_verified_weights,
    )
    catalog = Catalog(registry, verifier=verifier, policy=entry_policy(settings))
    reports = []
    if settings.catalog.file is not None:
        reports.append(catalog.load_file(settings.catalog.file))
    if settings.catalog.inline:
        reports.append(catalog.load_text(settings.catalog.inline, source="env"))
    for report in reports:
        for error in report.errors:
            log.error("model refused: %s", error)
    return catalog


def entry_policy(settings: Settings) -> EntryPolicy:
    """Where catalog entries sent over the API may point: files under catalog.model_dirs,
    home/models, the catalog file's folder and the embedded model's folder; hosts on
    catalog.allowed_hosts."""
    from cerebra.models.catalog_policy import EntryPolicy

    dirs = [settings.models_dir, *settings.catalog.model_dirs]
    if settings.catalog.file is not None:
        dirs.append(settings.catalog.file.expanduser().parent)
    if settings.model.path is not None:
        dirs.append(settings.model.path.expanduser().parent)
    return EntryPolicy.of(dirs, settings.catalog.allowed_hosts)


def enable_cache(settings: Settings, registry: ModelRegistry) -> None:
    """Wrap every model, present and future, in the response cache."""
    from cerebra.models.cache import CachedBackend, make_store

    store = make_store(settings.redis.url, max_entries=settings.cache.max_entries)

    def wrap(name: str, backend: ModelBackend | None) -> None:
        if backend is None or wrapped_by(backend, CachedBackend) or name == settings.router.name:
            return
        registry.replace(name, CachedBackend(backend, store, ttl_s=settings.cache.ttl_s))

    for name, backend in registry.items():
        wrap(name, backend)
    registry.subscribe(
        lambda event, name, b: wrap(name, b) if event in ("added", "replaced") else None
    )


def enable_router(settings: Settings, registry: ModelRegistry, engine: Engine,
                  jobs: JobRunner | None = None) -> Router:
    """A Router over every other model, registered as `router_name`, kept in sync on swaps;
    its state saves and Redis exchange run as periodic jobs of `jobs`."""
    from cerebra.routing.policy import RoutePolicy
    from cerebra.routing.router import Router
    from cerebra.routing.state import RouterStore

    shared = None
    if settings.redis.url:  # replicas share learning, cooldowns and policies through Redis
        from cerebra.routing.shared import RedisSharedState

        shared = RedisSharedState(settings.redis.url, jobs=jobs)

    assert settings.router.strategy is not None
    # members lease the current model per call: a swap never closes one under the router
    members = [registry.member(n) for n, _ in registry.items() if n != settings.router.name]
    router = Router(
        members,
        policy=RoutePolicy(strategy=settings.router.strategy),
        store=RouterStore(engine, jobs=jobs),
        name=settings.router.name,
        shared=shared,
    )

    def sync(event: str, name: str, backend: ModelBackend | None) -> None:
        if name == settings.router.name:
            return
        if event in ("added", "replaced") and name not in router.backends:
            router.add_backend(registry.member(name))
        elif event == "removed" and name in router.backends:
            router.remove_backend(name)

    registry.subscribe(sync)
    registry.add(router, name=settings.router.name, default=True)
    return router


@dataclass(frozen=True)
class BrainParts:
    """What a Brain runs on, assembled from settings."""

    settings: Settings
    engine: Engine
    models: ModelRegistry
    memory: MemoryStore
    router: Router | None
    catalog: Catalog
    jobs: JobRunner | None = None  # background and periodic jobs; the Brain closes it
    guards: list[Guard] = field(default_factory=list)  # from settings: policy, limits
    sinks: list[Sink] = field(default_factory=list)  # from settings: audit (after the ledger)
    plugins: PluginManager | None = None  # from settings: plugins (the Brain closes it)


def build_guards(settings: Settings, engine: Engine,
                 models: ModelRegistry | None = None) -> list[Guard]:
    """The guards settings switch on, in the order they run: input policy (the
    constitution), rate limits and budget reservations, then the cut at invented turns
    (output only)."""
    from cerebra.governance.guard import build_policy_guard

    guards: list[Guard] = []
    policy = build_policy_guard(settings)  # a bad constitution signature stops start-up here
    if policy is not None:
        guards.append(policy)
    if models is not None:  # limits price requests by the models they ask for
        from cerebra.auth.limits_guard import build_limits_guard

        limits = build_limits_guard(settings, engine, models)
        if limits is not None:
            guards.append(limits)
    if settings.generation.cut_invented_turns:
        from cerebra.models.invented_turns import InventedTurnGuard

        guards.append(InventedTurnGuard())
    return guards


def build_sinks(settings: Settings, engine: Engine) -> list[Sink]:
    """The sinks settings switch on, after the ledger: the audit log (a "request" event per
    interaction; the Brain exposes its AuditLog as `brain.audit`)."""
    sinks: list[Sink] = []
    if settings.audit.enabled:
        from cerebra.governance.audit_setup import AuditRequestSink, build_audit_log

        sinks.append(AuditRequestSink(build_audit_log(settings, engine)))
    return sinks


def assemble(
    settings: Settings, *, model: ModelBackend | None = None, embedder: Any = None
) -> BrainParts:
    from cerebra.memory.store import MemoryStore

    settings.check_secrets()
    settings.ensure_home()
    engine = make_engine(settings.db_url)
    upgrade(engine)
    registry = ModelRegistry()
    if model is not None or settings.model.embedded:
        registry.add(model or load_default_model(settings), default=True)
    from cerebra.plugins.setup import build_plugins, plugin_policy_guard

    plugins = build_plugins(settings)  # first: a plugin's model kinds back catalog entries
    catalog = build_catalog(settings, registry)
    if model is None:  # SmolLM2 beside the embedded Gemma (cerebra.models.instruct)
        from cerebra.models.instruct import add_instruct_model

        add_instruct_model(settings, catalog)
    if settings.cache.enabled:
        enable_cache(settings, registry)
    # one runner for every background and periodic job: threads here, or Celery workers
    jobs = make_runner(settings.jobs.runner, engine=engine,
                       broker_url=settings.jobs.broker_url or settings.redis.url)
    router = (enable_router(settings, registry, engine, jobs) if settings.router.strategy
              else None)
    embedder = embedder or load_embedder(settings)
    memory = MemoryStore(
        memory_backend(engine, settings),
        # concurrent requests' queries (and exchanges stored without write-behind) share
        # model passes
        BatchingEmbedder(embedder),
        weights=retrieval_weights(settings),
        max_chars=settings.memory.max_chars,
        near_duplicate_threshold=settings.memory.near_duplicate_threshold,
        supersession=settings.memory.supersession,
    )
    learn_weights(memory, engine, settings)
    if settings.memory.write_behind:  # exchanges' vectors from a background thread
        from cerebra.memory.write_behind import enable_write_behind

        # its own passes, beside the queries': a query never waits behind an exchange's
        # embedding (a thread-safe runtime, ONNX, runs both at once on two cores)
        enable_write_behind(memory, embedder=embedder)
    if settings.memory.prune_interval_s > 0:
        schedule_pruning(memory, engine, jobs, settings.memory.prune_interval_s)
    if settings.memory.integrity_interval_s > 0:
        from cerebra.memory.integrity import schedule_integrity

        schedule_integrity(memory, jobs, settings.memory.integrity_interval_s)
    if settings.audit.enabled and settings.audit.verify_interval_s > 0:
        from cerebra.governance.audit_verified import schedule_audit_verify

        schedule_audit_verify(engine, settings, jobs, settings.audit.verify_interval_s)
    guards = build_guards(settings, engine, registry)
    if plugins is not None and (plugin_guard := plugin_policy_guard(plugins)) is not None:
        guards.append(plugin_guard)  # the plugins' policies, as they are at each request
    return BrainParts(settings, engine, registry, memory, router, catalog, jobs,
                      guards=guards, sinks=build_sinks(settings, engine), plugins=plugins)


def learn_weights(memory: MemoryStore, engine: Engine, settings: Settings) -> None:
    """Give `memory` the weights each scope learned from feedback (memory.learn_weights)."""
    if settings.memory.learn_weights:
        from cerebra.memory.learned_weights import learned_weights

        memory.learned = learned_weights(engine, memory.weights, settings.memory)


def schedule_pruning(memory: MemoryStore, engine: Engine, jobs: JobRunner,
                     interval_s: float) -> None:
    """Delete every tenant's expired memories now and every `interval_s` ("memory-prune")."""
    from sqlalchemy import select

    from cerebra.context import RequestContext
    from cerebra.db.schema import tenants
    from cerebra.memory.pruner import Pruner

    def prune_expired() -> int:
        with engine.connect() as conn:
            ids = conn.execute(select(tenants.c.id)).scalars().all()
        return sum(memory.prune(threshold=0.0, context=RequestContext(tenant_id=t))
                   for t in ids)

    Pruner(prune_expired, interval=interval_s, runner=jobs, name="memory-prune").start()


def feedback_parts(settings: Settings) -> tuple[Engine, Any]:
    """The migrated database (also when memories live in TinyDB) and the memory store a
    Brain that only records feedback needs (Brain.for_feedback)."""
    settings.ensure_home()
    engine = make_engine(settings.db_url)
    upgrade(engine)
    return engine, build_memory_store(settings, engine=engine)


def build_memory_store(
    settings: Settings, *, embedder: Any = None, engine: Engine | None = None
) -> Any:
    """A MemoryStore on the configured database (`engine`, else one made and migrated
    here), without loading any model."""
    from cerebra.memory.store import MemoryStore

    settings.ensure_home()
    if engine is None:
        engine = make_engine(settings.db_url)
        upgrade(engine)
    store = MemoryStore(
        memory_backend(engine, settings),
        embedder or load_embedder(settings),
        weights=retrieval_weights(settings),
        max_chars=settings.memory.max_chars,
        near_duplicate_threshold=settings.memory.near_duplicate_threshold,
        supersession=settings.memory.supersession,
    )
    learn_weights(store, engine, settings)
    return store


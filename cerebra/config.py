"""Settings: every knob of Cerebra, in groups, read from CEREBRA_* environment variables and
`.env`.

A grouped setting is named with a double underscore (`CEREBRA_MEMORY__TOP_K`); the flat
names of earlier versions (`CEREBRA_MEMORY_TOP_K`, `CEREBRA_PORT`, …) keep working as aliases.
The environment beats `.env`; in each, the grouped name beats its alias. `get_settings()` is
the one cached entry point; nothing reads the environment elsewhere.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

DEV_SECRET = "dev-secret-change-me-it-signs-tokens-in-dev-only"  # ≥ 32 bytes for HS256
PREFIX = "CEREBRA_"
DELIMITER = "__"


def default_home() -> Path:
    """The per-user data folder (e.g. ~/.local/share/cerebra on Linux), whatever the current
    folder: the CLI and the server find the same memory from anywhere. CEREBRA_HOME wins."""
    import platformdirs

    return Path(platformdirs.user_data_dir("cerebra", appauthor=False))


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
        description="seconds a resolved API key is reused without reading the database (a "
        "revocation through this server applies at once, through another within this time)",
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


class MemorySettings(_Group):
    """Long-term memory: recall before each answer, remember each exchange after."""

    enabled: bool = _field(
        True, alias="CEREBRA_MEMORY_ENABLED",
        description="recall memories for every answer and remember every exchange (off: "
        "neither; the memory API and CLI still work)",
    )
    top_k: int = _field(
        5, alias="CEREBRA_MEMORY_TOP_K", ge=0, le=100,
        description="memories recalled per answer (0: none)",
    )
    token_budget: int = _field(
        512, alias="CEREBRA_MEMORY_TOKEN_BUDGET", ge=0,
        description="tokens of recalled memories put into the prompt at most",
    )
    max_chars: int = _field(
        20_000, alias="CEREBRA_MEMORY_MAX_CHARS", ge=1,
        description="longest prompt or memory text accepted, in characters (longer: 422)",
    )
    near_duplicate_threshold: float | None = _field(
        None, alias="CEREBRA_MEMORY_NEAR_DUPLICATE_THRESHOLD", gt=0, le=1,
        description="a new memory this similar (cosine) to one in its scope is merged into "
        "it; default: only exact duplicates are",
    )
    embedder: Literal["minilm", "fake"] = _field(
        "minilm", alias="CEREBRA_EMBEDDER",
        description="embeddings: all-MiniLM-L6-v2 from its PyPI package, or "
        "cerebra.testing.FakeEmbedder",
    )
    embedder_device: str = _field(
        "cpu", alias="CEREBRA_EMBEDDER_DEVICE",
        description="torch device of the MiniLM embedder (cpu, cuda, mps)",
    )
    prune_interval_s: float = _field(
        3600.0, ge=0,
        description="seconds between background deletions of expired memories, every "
        "tenant's (0: none)",
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


GROUPS: dict[str, type[_Group]] = {
    "server": ServerSettings,
    "auth": AuthSettings,
    "database": DatabaseSettings,
    "redis": RedisSettings,
    "limits": LimitsSettings,
    "model": ModelSettings,
    "generation": GenerationSettings,
    "catalog": CatalogSettings,
    "cache": CacheSettings,
    "health": HealthSettings,
    "router": RouterSettings,
    "memory": MemorySettings,
    "policy": PolicySettings,
    "audit": AuditSettings,
}


def env_alias(info: FieldInfo) -> str | None:
    extra = info.json_schema_extra
    if isinstance(extra, dict):
        value = extra.get("env_alias")
        return value if isinstance(value, str) else None
    return None


def aliases() -> dict[str, tuple[str, str]]:
    """Flat environment name of earlier versions → (group, field)."""
    return {
        alias: (group, name)
        for group, model in GROUPS.items()
        for name, info in model.model_fields.items()
        if (alias := env_alias(info))
    }


class _AliasSource(PydanticBaseSettingsSource):
    """The flat names of earlier versions, read from the same variables as one other source
    (the environment or `.env`) and placed below it: a grouped name set there wins."""

    def __init__(
        self, settings_cls: type[BaseSettings], source: PydanticBaseSettingsSource
    ) -> None:
        super().__init__(settings_cls)
        self._vars: Mapping[str, str | None] = getattr(source, "env_vars", {})

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ does the work

    def __call__(self) -> dict[str, Any]:
        out: dict[str, dict[str, Any]] = {}
        for alias, (group, name) in aliases().items():
            value = self._vars.get(alias.lower(), self._vars.get(alias))
            if value is None:
                continue
            if GROUPS[group].model_fields[name].annotation == list[str]:
                try:
                    value = json.loads(value)
                except ValueError as exc:
                    from pydantic_settings import SettingsError

                    raise SettingsError(f"{alias} must be a JSON list: {exc}") from exc
            out.setdefault(group, {})[name] = value
        return out


def _grouped(source: PydanticBaseSettingsSource) -> PydanticBaseSettingsSource:
    """The same source, except that a variable named like a group (CEREBRA_AUTH) is that
    group only when it holds a JSON object; otherwise it is a flat alias (CEREBRA_AUTH=off
    means auth.mode), read by _AliasSource, and the group is built from its CEREBRA_AUTH__*
    names."""
    original = source.get_field_value

    def get_field_value(field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        value, key, complex_ = original(field, field_name)
        if field_name in GROUPS and isinstance(value, str) and not value.lstrip().startswith("{"):
            value = None
        return value, key, complex_

    source.get_field_value = get_field_value  # type: ignore[method-assign]
    return source


class Settings(BaseSettings):
    """Effective configuration: a few top-level settings and one model per group.

    Construct with groups: `Settings(home=…, memory={"top_k": 3})`; a flat keyword of
    earlier versions (`memory_top_k=3`) is a TypeError naming the grouped one.
    """

    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
        env_nested_delimiter=DELIMITER,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    env: Literal["dev", "prod", "test"] = Field(
        "dev", description="deployment mode: outside dev the default secret_key (which signs "
        "access tokens) is refused at start"
    )
    home: Path = Field(
        default_factory=default_home,
        description="data directory: the SQLite database, the assembled model file, the "
        "ledger's spill file; default: the per-user data folder",
    )
    secret_key: SecretStr = Field(
        SecretStr(DEV_SECRET),
        description="the server's secret (it signs access tokens); outside env=dev the "
        "built-in development value is refused at start",
    )
    config_signature: str | None = Field(
        None,
        description="HMAC-SHA256 (keyed with secret_key) of the effective settings, from "
        "`cerebra config sign`; `serve` refuses to start when they no longer match",
    )
    server: ServerSettings = Field(default_factory=ServerSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    generation: GenerationSettings = Field(default_factory=GenerationSettings)
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    health: HealthSettings = Field(default_factory=HealthSettings)
    router: RouterSettings = Field(default_factory=RouterSettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)

    def __init__(self, **values: Any) -> None:
        flat = aliases()
        for key in values:
            if key.startswith("_") or key in type(self).model_fields:
                continue
            hint = ""
            if f"{PREFIX}{key.upper()}" in flat:
                group, name = flat[f"{PREFIX}{key.upper()}"]
                hint = f"; settings are grouped now: {group}={{{name!r}: …}}"
            raise TypeError(f"unknown setting {key!r}{hint}")
        super().__init__(**values)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        env_settings, dotenv_settings = _grouped(env_settings), _grouped(dotenv_settings)
        return (
            init_settings,
            env_settings,
            _AliasSource(settings_cls, env_settings),
            dotenv_settings,
            _AliasSource(settings_cls, dotenv_settings),
            file_secret_settings,
        )

    @field_validator("home")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def db_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite:///{(self.home / 'cerebra.db').resolve()}"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    def ensure_home(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.models_dir.mkdir(parents=True, exist_ok=True)

    def check_secrets(self) -> None:
        """Refuse the built-in development secret outside dev mode (prod and test alike)."""
        if self.env != "dev" and self.secret_key.get_secret_value() == DEV_SECRET:
            raise ValueError(
                f"CEREBRA_SECRET_KEY is the development default; set a real secret "
                f"(CEREBRA_ENV={self.env}: only dev accepts it)"
            )

    def masked(self) -> dict[str, Any]:
        """Effective settings as plain values, grouped, secrets and URL passwords masked;
        `database.url` is the URL in use (the SQLite file in home by default)."""
        out: dict[str, Any] = {}
        for name, value in _items(self):
            out[name] = _shown(name, value)
        for group in GROUPS:
            out[group] = {
                name: _shown(name, value) for name, value in _items(getattr(self, group))
            }
        out["database"]["url"] = _mask_url(self.db_url)
        return out



def _items(model: BaseModel) -> Iterator[tuple[str, Any]]:
    for name in type(model).model_fields:
        value = getattr(model, name)
        if not isinstance(value, BaseModel):
            yield name, value


def _shown(name: str, value: Any) -> Any:
    if isinstance(value, SecretStr):
        return "**********" if value.get_secret_value() else ""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, str) and name.endswith("url"):
        return _mask_url(value)
    return value


def _mask_url(url: str) -> str:
    """Hide the password part of a database URL."""
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:****@{host}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

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

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from cerebra.config_agents import AgentsSettings, PluginsSettings
from cerebra.config_groups import (
    AuditSettings,
    AuthSettings,
    CacheSettings,
    CatalogSettings,
    DatabaseSettings,
    GenerationSettings,
    HealthSettings,
    LimitsSettings,
    ModelSettings,
    PolicySettings,
    RedisSettings,
    RouterSettings,
    ServerSettings,
    _Group,
)
from cerebra.config_improve import ImproveSettings, JobsSettings
from cerebra.config_memory import MemorySettings
from cerebra.config_observe import (
    CostsSettings,
    DashboardSettings,
    DriftSettings,
    LogsSettings,
    TracingSettings,
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
    "plugins": PluginsSettings,
    "agents": AgentsSettings,
    "jobs": JobsSettings,
    "improve": ImproveSettings,
    "tracing": TracingSettings,
    "costs": CostsSettings,
    "drift": DriftSettings,
    "logs": LogsSettings,
    "dashboard": DashboardSettings,
}


DEV_SECRET = "dev-secret-change-me-it-signs-tokens-in-dev-only"  # ≥ 32 bytes for HS256
PREFIX = "CEREBRA_"
DELIMITER = "__"


def default_home() -> Path:
    """The per-user data folder (e.g. ~/.local/share/cerebra on Linux), whatever the current
    folder: the CLI and the server find the same memory from anywhere. CEREBRA_HOME wins."""
    import platformdirs

    return Path(platformdirs.user_data_dir("cerebra", appauthor=False))


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
    plugins: PluginsSettings = Field(default_factory=PluginsSettings)
    agents: AgentsSettings = Field(default_factory=AgentsSettings)
    jobs: JobsSettings = Field(default_factory=JobsSettings)
    improve: ImproveSettings = Field(default_factory=ImproveSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    costs: CostsSettings = Field(default_factory=CostsSettings)
    drift: DriftSettings = Field(default_factory=DriftSettings)
    logs: LogsSettings = Field(default_factory=LogsSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)

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

"""Settings: every knob of Cerebra, read from CEREBRA_* environment variables and `.env`.

`get_settings()` is the one cached entry point; nothing reads the environment elsewhere.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-secret-change-me"


def default_home() -> Path:
    """The per-user data folder (e.g. ~/.local/share/cerebra on Linux), whatever the current
    folder: the CLI and the server find the same memory from anywhere. CEREBRA_HOME wins."""
    import platformdirs

    return Path(platformdirs.user_data_dir("cerebra", appauthor=False))


class Settings(BaseSettings):
    """Effective configuration. Paths are resolved against `home` when relative."""

    model_config = SettingsConfigDict(
        env_prefix="CEREBRA_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    env: Literal["dev", "prod", "test"] = "dev"
    home: Path = Field(
        default_factory=default_home, description="data directory; default: per-user folder"
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file in home"
    )
    secret_key: SecretStr = SecretStr(DEV_SECRET)

    # generation
    model_name: str = "gemma-3-270m"
    model_path: Path | None = Field(
        default=None, description="GGUF file; default: assembled from the PyPI package"
    )
    model_sha256: str | None = Field(
        default=None, description="expected SHA-256; default: the package's own hash"
    )
    n_ctx: int = Field(default=4096, ge=256)
    n_threads: int | None = None
    max_tokens: int = Field(default=128, ge=1)
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    fake_model: bool = Field(default=False, description="serve cerebra.testing.FakeModel")
    embedded_model: bool = Field(
        default=True, description="register the embedded local model (off: catalog only)"
    )

    # model catalog, verification, cache, health, routing
    models_file: Path | None = Field(default=None, description="YAML model catalog")
    models: str | None = Field(default=None, description="inline YAML/JSON model catalog")
    pricing: str | None = Field(default=None, description="price table overrides: file or YAML")
    require_verified_weights: bool = False
    trusted_keys: list[str] = Field(default_factory=list, description="Ed25519 public keys")
    weights_hmac_key: SecretStr | None = None
    redis_url: str | None = None
    cache_enabled: bool = False
    cache_ttl_s: float = Field(default=3600.0, gt=0)
    cache_max_entries: int = Field(default=1024, ge=1)
    health_interval_s: float = Field(default=30.0, ge=0, description="0: no scheduled probes")
    health_unhealthy_after: int = Field(default=2, ge=1)
    router_strategy: str | None = Field(
        default=None, description="route over the catalog with this bandit (e.g. thompson)"
    )
    router_name: str = "auto"

    # local models under load: admission queue, wall-clock limit, max_tokens cap
    local_queue_size: int = Field(
        default=16, ge=0, description="requests that may wait for a busy local model (more: 429)"
    )
    generation_timeout_s: float = Field(
        default=120.0, ge=0, description="wall-clock limit per request, queueing included (0: none)"
    )
    max_tokens_cap: int = Field(
        default=2048, ge=1, description="a larger max_tokens is refused (422)"
    )

    # embeddings and memory
    embedder: Literal["minilm", "fake"] = "minilm"
    embedder_device: str = "cpu"
    memory_enabled: bool = True
    memory_top_k: int = Field(default=5, ge=0, le=100)
    memory_token_budget: int = Field(default=512, ge=0)
    memory_max_chars: int = Field(default=20_000, ge=1)
    memory_near_duplicate_threshold: float | None = Field(
        default=None, gt=0, le=1, description="merge near-duplicates above this cosine (off)"
    )

    # server
    host: str = "127.0.0.1"
    port: int = Field(default=8800, ge=1, le=65535)
    log_level: str = "INFO"
    log_json: bool = True

    @field_validator("home")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'cerebra.db').resolve()}"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    def ensure_home(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.models_dir.mkdir(parents=True, exist_ok=True)

    def check_secrets(self) -> None:
        """Refuse the built-in development secret outside dev/test mode."""
        if self.env == "prod" and self.secret_key.get_secret_value() == DEV_SECRET:
            raise ValueError(
                "CEREBRA_SECRET_KEY is the development default; set a real secret in prod"
            )

    def masked(self) -> dict[str, Any]:
        """Effective settings as plain values, secrets and URL passwords masked."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "**********" if value.get_secret_value() else ""
            elif name == "redis_url" and value:
                value = _mask_url(value)
            elif isinstance(value, Path):
                value = str(value)
            out[name] = value
        out["database_url"] = _mask_url(self.db_url)
        return out


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

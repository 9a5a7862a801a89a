"""Settings: environment prefix, masking, the refusal of default secrets in prod."""

from __future__ import annotations

from pathlib import Path

import pytest

from cerebra.config import Settings, get_settings


def test_env_prefix_and_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CEREBRA_PORT", "9911")
    monkeypatch.setenv("CEREBRA_HOME", str(tmp_path / "x"))
    get_settings.cache_clear()
    s = get_settings()
    assert s.port == 9911
    assert s.db_url == f"sqlite:///{(tmp_path / 'x' / 'cerebra.db').resolve()}"
    assert get_settings() is s  # cached


def test_dotenv_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("CEREBRA_MAX_TOKENS=77\n")
    monkeypatch.chdir(tmp_path)
    assert Settings().max_tokens == 77


def test_masked_hides_secrets_and_passwords() -> None:
    s = Settings(secret_key="s3cret", database_url="postgresql://u:pw@db:5432/x")
    shown = s.masked()
    assert "s3cret" not in str(shown)
    assert "pw" not in shown["database_url"]
    assert shown["database_url"] == "postgresql://u:****@db:5432/x"


def test_prod_refuses_default_secret() -> None:
    with pytest.raises(ValueError, match="CEREBRA_SECRET_KEY"):
        Settings(env="prod").check_secrets()
    Settings(env="prod", secret_key="real").check_secrets()


def test_invalid_values_rejected() -> None:
    with pytest.raises(ValueError):
        Settings(temperature=5)

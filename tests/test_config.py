"""Settings: groups with CEREBRA_<GROUP>__<NAME>, the flat names of earlier versions as aliases
(the grouped name wins; the environment beats .env), masking, the refusal of default secrets
in prod, the CLI's one-line error naming the variable, and the generated README table."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import pytest
from pydantic import SecretStr, ValidationError
from pydantic.fields import FieldInfo

from cerebra.config import GROUPS, Settings, aliases, get_settings
from cerebra.config_doc import env_values, markdown_table, specs
from tests.helpers import run_cli

README = Path(__file__).resolve().parent.parent / "README.md"


def test_env_prefix_and_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CEREBRA_PORT", "9911")
    monkeypatch.setenv("CEREBRA_HOME", str(tmp_path / "x"))
    get_settings.cache_clear()
    s = get_settings()
    assert s.server.port == 9911
    assert s.db_url == f"sqlite:///{(tmp_path / 'x' / 'cerebra.db').resolve()}"
    assert get_settings() is s  # cached


def test_grouped_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CEREBRA_MEMORY__TOP_K", "3")
    monkeypatch.setenv("CEREBRA_MODEL__N_CTX", "1024")
    monkeypatch.setenv("CEREBRA_CATALOG__TRUSTED_KEYS", '["k1", "k2"]')
    s = Settings()
    assert (s.memory.top_k, s.model.n_ctx, s.catalog.trusted_keys) == (3, 1024, ["k1", "k2"])
    assert s.memory.token_budget == 512  # the rest of the group keeps its defaults


@pytest.mark.parametrize("alias", sorted(aliases()))
def test_every_alias_is_read(monkeypatch: pytest.MonkeyPatch, alias: str) -> None:
    group, name = aliases()[alias]
    info = GROUPS[group].model_fields[name]
    raw, expected = _sample(info)
    monkeypatch.setenv(alias, raw)
    got = getattr(getattr(Settings(), group), name)
    assert (got.get_secret_value() if isinstance(got, SecretStr) else got) == expected
    assert expected != info.get_default(call_default_factory=True)


def _sample(info: FieldInfo) -> tuple[str, Any]:
    """(environment text, parsed value) of a valid value other than the default."""
    annotation = info.annotation
    optional = type(None) in get_args(annotation)
    kind = next(a for a in get_args(annotation) if a is not type(None)) if optional else annotation
    default = info.get_default(call_default_factory=True)
    if kind is bool:
        return ("false", False) if default else ("true", True)
    if get_origin(kind) is Literal:
        value = next(v for v in get_args(kind) if v != default)
        return str(value), value
    if get_origin(kind) is list:
        return '["x"]', ["x"]
    if kind in (int, float):
        low = max([getattr(m, "ge", None) or getattr(m, "gt", None) or 0 for m in info.metadata]
                  + [0])
        value = kind(low + 1) if kind(low + 1) != default else kind(low + 2)
        return str(value), value
    if kind is Path:
        return "/tmp/sample", Path("/tmp/sample")
    return "sample", "sample"


def test_grouped_name_wins_over_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CEREBRA_MEMORY_TOP_K", "7")
    monkeypatch.setenv("CEREBRA_MEMORY__TOP_K", "2")
    monkeypatch.setenv("CEREBRA_PORT", "9001")
    monkeypatch.setenv("CEREBRA_SERVER", '{"port": 9002}')  # a whole group as JSON
    s = Settings()
    assert s.memory.top_k == 2 and s.server.port == 9002


def test_environment_beats_dotenv_and_dotenv_aliases_work(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text(
        "CEREBRA_MAX_TOKENS=77\nCEREBRA_MEMORY__TOP_K=4\nCEREBRA_MEMORY_TOP_K=9\n"
        "CEREBRA_GENERATION__TEMPERATURE=0.1\n"
    )
    monkeypatch.chdir(tmp_path)
    s = Settings()
    assert (s.generation.max_tokens, s.memory.top_k, s.generation.temperature) == (77, 4, 0.1)
    monkeypatch.setenv("CEREBRA_TEMPERATURE", "0.3")  # an alias in the environment beats .env
    monkeypatch.setenv("CEREBRA_MEMORY_TOP_K", "6")
    s = Settings()
    assert (s.generation.temperature, s.memory.top_k) == (0.3, 6)


def test_masked_hides_secrets_and_passwords() -> None:
    s = Settings(
        secret_key="s3cret",
        database={"url": "postgresql://u:pw@db:5432/x"},
        redis={"url": "redis://:rpw@cache:6379/0"},
        catalog={"weights_hmac_key": "hk"},
    )
    shown = s.masked()
    assert "s3cret" not in str(shown) and "rpw" not in str(shown) and "'hk'" not in str(shown)
    assert shown["database"]["url"] == "postgresql://u:****@db:5432/x"
    assert shown["catalog"]["weights_hmac_key"] == "**********"
    assert ("CEREBRA_DATABASE__URL", "postgresql://u:****@db:5432/x") in env_values(s)


def test_prod_refuses_default_secret() -> None:
    with pytest.raises(ValueError, match="CEREBRA_SECRET_KEY"):
        Settings(env="prod").check_secrets()
    Settings(env="prod", secret_key="real").check_secrets()


def test_invalid_values_rejected() -> None:
    with pytest.raises(ValidationError):
        Settings(generation={"temperature": 5})


def test_flat_keywords_are_refused_with_the_grouped_spelling() -> None:
    with pytest.raises(TypeError, match=r"memory=\{'top_k'"):
        Settings(memory_top_k=3)
    with pytest.raises(TypeError, match="unknown setting 'nonsense'"):
        Settings(nonsense=1)


def test_misspelt_grouped_name_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CEREBRA_MEMORY__TOPK", "3")
    with pytest.raises(ValidationError):
        Settings()


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"CEREBRA_MEMORY__TOP_K": "x"}, "CEREBRA_MEMORY__TOP_K"),
        ({"CEREBRA_MEMORY_TOP_K": "x"}, "CEREBRA_MEMORY_TOP_K"),
        ({"CEREBRA_PORT": "0"}, "CEREBRA_PORT"),
        ({"CEREBRA_ENV": "staging"}, "CEREBRA_ENV"),
        ({"CEREBRA_MEMORY__TOPK": "3"}, "CEREBRA_MEMORY__TOPK: no such setting"),
        ({"CEREBRA_TRUSTED_KEYS": "not-json"}, "CEREBRA_TRUSTED_KEYS must be a JSON list"),
    ],
)
def test_cli_names_the_invalid_variable(env: dict[str, str], named: str) -> None:
    result = run_cli("config", "show", env=env)
    assert result.returncode == 2
    assert result.stderr.startswith("error: invalid setting") and named in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_config_show_table_json_and_markdown() -> None:
    env = {"CEREBRA_MEMORY__TOP_K": "3", "CEREBRA_PORT": "9123"}
    table = run_cli("config", "show", env={**env, "COLUMNS": "200"})
    assert table.returncode == 0
    assert re.search(r"CEREBRA_MEMORY__TOP_K\s+│\s+3\b", table.stdout)
    assert re.search(r"CEREBRA_SERVER__PORT\s+│\s+9123\b", table.stdout)
    data = json.loads(run_cli("config", "show", "--json", env=env).stdout)
    assert data["memory"]["top_k"] == 3 and data["server"]["port"] == 9123
    assert run_cli("config", "show", "--markdown").stdout == markdown_table()


def test_every_setting_is_documented() -> None:
    for spec in specs():
        assert spec.description, f"{spec.env} has no description"
    table = markdown_table()
    for spec in specs():
        assert f"`{spec.env}`" in table
        if spec.alias:
            assert f"`{spec.alias}`" in table


def test_readme_table_is_the_generated_one() -> None:
    text = README.read_text(encoding="utf-8")
    start, end = "<!-- settings:start -->\n", "<!-- settings:end -->"
    assert start in text and end in text, "README lacks the generated settings table"
    shown = text.split(start, 1)[1].split(end, 1)[0]
    assert shown == markdown_table(), (
        "README settings table is stale: paste `cerebra config show --markdown` between the "
        "settings markers"
    )


def test_readme_names_only_real_settings() -> None:
    """Every CEREBRA_ name the README mentions is a setting, an alias or a group."""
    known = {s.env for s in specs()} | set(aliases()) | {f"CEREBRA_{g.upper()}" for g in GROUPS}
    named = set(re.findall(r"CEREBRA_[A-Z0-9_]+[A-Z0-9]", README.read_text(encoding="utf-8")))
    assert named - known == set()

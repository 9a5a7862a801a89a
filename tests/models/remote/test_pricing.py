"""The price table: built-in lookups, overrides from a mapping or a file, and cost."""

from __future__ import annotations

from pathlib import Path

import pytest

from cerebra.errors import InvalidInput
from cerebra.models.anthropic import AnthropicBackend
from cerebra.models.base import Usage
from cerebra.models.openai_http import OpenAIHTTPBackend
from cerebra.models.pricing import Price, PriceTable, cost

USAGE = Usage(1_000_000, 1_000_000)


@pytest.mark.parametrize(("model", "total"), [
    ("gpt-4o", 12.5), ("gpt-4o-2024-08-06", 12.5), ("gpt-4o-mini-2024-07-18", 0.75),
    ("openai/gpt-4o-mini", 0.75), ("gpt-4.1-nano", 0.5), ("gpt-4-0613", 90.0),
    ("claude-sonnet-4-5-20250929", 18.0), ("claude-3-5-haiku-latest", 4.8),
    ("anthropic/claude-opus-4-1", 90.0), ("o3-mini", 5.5),
])
def test_builtin_lookup(model: str, total: float) -> None:
    assert cost(model, USAGE) == pytest.approx(total)


def test_unknown_and_local_models_cost_nothing() -> None:
    table = PriceTable()
    assert table.price("gemma-3-270m") is None and table.cost("llama3:8b", USAGE) == 0.0
    assert table.price("gpt-4o.bak") is None  # "." is no name boundary
    assert table.price("gpt-4oish") is None


def test_overrides_per_token_per_million_and_pairs() -> None:
    table = PriceTable({"gpt-4o": {"input": 1e-6, "output": 2e-6},
                        "my-vllm": {"input_per_mtok": 0.2, "output_per_mtok": 0.6},
                        "pair": [0.0, 1e-6]})
    assert table.price("gpt-4o") == Price(1e-6, 2e-6)
    assert table.cost("my-vllm-awq", USAGE) == pytest.approx(0.8)
    assert table.cost("pair", USAGE) == pytest.approx(1.0)
    assert table.price("gpt-4o-mini") == Price(0.15e-6, 0.6e-6, 0.075 / 1e6)  # built in
    assert PriceTable({"models": {"x": [1, 2]}}).price("x") == Price(1, 2)
    assert PriceTable({"x": [1, 2]}, builtin=False).models() == ["x"]


def test_overrides_from_yaml_and_json_files(tmp_path: Path) -> None:
    yaml_file = tmp_path / "prices.yaml"
    yaml_file.write_text("models:\n  local-70b:\n    input_per_mtok: 1\n    output_per_mtok: 3\n")
    assert PriceTable.from_config(yaml_file).cost("local-70b", USAGE) == pytest.approx(4.0)
    json_file = tmp_path / "prices.json"
    json_file.write_text('{"local-8b": {"input": 0, "output": 1e-7}}')
    assert PriceTable.from_config(str(json_file)).cost("local-8b", USAGE) == pytest.approx(0.1)
    assert PriceTable.from_config(None).price("gpt-4o") is not None


@pytest.mark.parametrize(("spec", "field"), [
    ({"m": {"input": -1, "output": 0}}, "pricing.m.input"),
    ({"m": {"input": "cheap", "output": 0}}, "pricing.m.input"),
    ({"m": {"input": 1}}, "pricing.m"),
    ({"m": {"inputs": 1, "output": 1}}, "pricing.m"),
    ({"m": 5}, "pricing.m"),
    ({"models": [1]}, "pricing"),
])
def test_bad_overrides_name_the_field(spec: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        PriceTable(spec)
    assert info.value.field == field


def test_bad_price_files(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read"):
        PriceTable.from_config(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("models: [unclosed\n")
    with pytest.raises(InvalidInput, match="not valid"):
        PriceTable.from_config(broken)


def test_backends_take_prices_from_the_table_or_explicit_arguments() -> None:
    table = PriceTable({"served-model": {"input": 1e-7, "output": 3e-7}})
    b = OpenAIHTTPBackend("http://127.0.0.1:9/v1", "served-model", pricing=table)
    assert (b.capabilities.cost_per_input_token, b.capabilities.cost_per_output_token) == (
        1e-7, 3e-7)
    explicit = OpenAIHTTPBackend("http://127.0.0.1:9/v1", "gpt-4o", cost_per_input_token=0.0)
    assert explicit.capabilities.cost_per_input_token == 0.0
    assert explicit.capabilities.cost_per_output_token == pytest.approx(10e-6)
    claude = AnthropicBackend("claude-3-haiku-20240307", api_key="k")
    assert claude.cost(Usage(1_000_000, 0)) == pytest.approx(0.25)


def test_configured_prices_reach_new_backends(tmp_path: Path) -> None:
    from cerebra.models.openai_http import OpenAIHTTPBackend
    from cerebra.models.pricing import configure_default_prices

    try:
        configure_default_prices("models: {house-model: {input_per_mtok: 2, output_per_mtok: 4}}")
        backend = OpenAIHTTPBackend("http://127.0.0.1:9/v1", "house-model")
        assert backend.capabilities.cost_per_input_token == pytest.approx(2e-6)
        assert backend.capabilities.cost_per_output_token == pytest.approx(4e-6)
        with pytest.raises(InvalidInput):
            configure_default_prices("- not a mapping")
    finally:
        configure_default_prices(None)

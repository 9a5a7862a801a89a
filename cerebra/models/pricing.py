"""Model prices in USD per token: a built-in table of well-known hosted models that config
can override (a mapping, or a YAML/JSON file), and `cost(model, usage)`.

Overrides map a model name to prices, either per token or per million tokens:

    gpt-4o: {input: 2.5e-6, output: 1.0e-5}
    my-vllm-model: {input_per_mtok: 0.2, output_per_mtok: 0.6}

Lookup is exact first, then the longest known name that prefixes the model at a "-", ":",
"@" or "/" boundary ("gpt-4o-mini-2024-07-18" → "gpt-4o-mini"); an OpenRouter-style
provider prefix ("openai/gpt-4o") is dropped when the full name is unknown. Unknown models
(local ones) cost nothing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from cerebra.errors import InvalidInput
from cerebra.models.base import Usage, usage_cost

# USD per million tokens (input, output): list prices of the providers' standard tiers.
_KNOWN_PER_MTOK: dict[str, tuple[float, float]] = {
    "gpt-5": (1.25, 10.0),
    "gpt-5-mini": (0.25, 2.0),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-4.1": (2.0, 8.0),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.0),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4-turbo": (10.0, 30.0),
    "gpt-4": (30.0, 60.0),
    "gpt-3.5-turbo": (0.50, 1.50),
    "o1": (15.0, 60.0),
    "o3": (2.0, 8.0),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
    "text-embedding-3-small": (0.02, 0.0),
    "text-embedding-3-large": (0.13, 0.0),
    "text-embedding-ada-002": (0.10, 0.0),
    "claude-opus-4-5": (5.0, 25.0),
    "claude-opus-4-1": (15.0, 75.0),
    "claude-opus-4": (15.0, 75.0),
    "claude-sonnet-4-5": (3.0, 15.0),
    "claude-sonnet-4": (3.0, 15.0),
    "claude-haiku-4-5": (1.0, 5.0),
    "claude-3-7-sonnet": (3.0, 15.0),
    "claude-3-5-sonnet": (3.0, 15.0),
    "claude-3-5-haiku": (0.80, 4.0),
    "claude-3-opus": (15.0, 75.0),
    "claude-3-haiku": (0.25, 1.25),
}
# USD per million prompt tokens read from the provider's prompt cache (OpenAI's cached input,
# Anthropic's cache reads: a tenth of the input price); models not named pay the input price.
_CACHED_PER_MTOK: dict[str, float] = {
    "gpt-5": 0.125, "gpt-5-mini": 0.025, "gpt-5-nano": 0.005, "gpt-4.1": 0.50,
    "gpt-4.1-mini": 0.10, "gpt-4.1-nano": 0.025, "gpt-4o": 1.25, "gpt-4o-mini": 0.075,
    "o1": 7.50, "o3": 0.50, "o3-mini": 0.55, "o4-mini": 0.275,
    "claude-opus-4-5": 0.50, "claude-opus-4-1": 1.50, "claude-opus-4": 1.50,
    "claude-sonnet-4-5": 0.30, "claude-sonnet-4": 0.30, "claude-haiku-4-5": 0.10,
    "claude-3-7-sonnet": 0.30, "claude-3-5-sonnet": 0.30, "claude-3-5-haiku": 0.08,
    "claude-3-opus": 1.50, "claude-3-haiku": 0.03,
}
_BOUNDARIES = ("-", ":", "@", "/")


@dataclass(frozen=True)
class Price:
    input: float  # USD per input token
    output: float  # USD per output token
    cached: float | None = None  # USD per cached input token (None: the input price)

    def cost(self, usage: Usage) -> float:
        return usage_cost(usage, self.input, self.output, self.cached)


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise InvalidInput(f"{field} must be a number", field=field)
    if value < 0:
        raise InvalidInput(f"{field} must be >= 0", field=field)
    return float(value)


def _parse_price(model: str, spec: Any) -> Price:
    where = f"pricing.{model}"
    if isinstance(spec, list | tuple) and len(spec) == 2:
        return Price(_number(spec[0], where), _number(spec[1], where))
    if not isinstance(spec, Mapping):
        raise InvalidInput(f"{where} must be a mapping with input/output prices", field=where)
    unknown = set(spec) - {"input", "output", "input_per_mtok", "output_per_mtok",
                           "cached_input", "cached_input_per_mtok"}
    if unknown:
        raise InvalidInput(f"{where}: unknown keys {', '.join(sorted(unknown))}", field=where)
    prices: list[float] = []
    for side in ("input", "output"):
        if side in spec:
            prices.append(_number(spec[side], f"{where}.{side}"))
        elif f"{side}_per_mtok" in spec:
            prices.append(_number(spec[f"{side}_per_mtok"], f"{where}.{side}_per_mtok") / 1e6)
        else:
            raise InvalidInput(f"{where} needs {side} or {side}_per_mtok", field=where)
    cached: float | None = None
    if "cached_input" in spec:
        cached = _number(spec["cached_input"], f"{where}.cached_input")
    elif "cached_input_per_mtok" in spec:
        cached = _number(spec["cached_input_per_mtok"], f"{where}.cached_input_per_mtok") / 1e6
    return Price(prices[0], prices[1], cached)


def _cached(model: str) -> float | None:
    mtok = _CACHED_PER_MTOK.get(model)
    return None if mtok is None else mtok / 1e6


class PriceTable:
    """Prices by model name; `overrides` win over the built-in table."""

    def __init__(self, overrides: Mapping[str, Any] | None = None, *, builtin: bool = True
                 ) -> None:
        self._prices: dict[str, Price] = {}
        if builtin:
            self._prices.update({m: Price(i / 1e6, o / 1e6, _cached(m))
                                 for m, (i, o) in _KNOWN_PER_MTOK.items()})
        if overrides is not None:
            if not isinstance(overrides, Mapping):
                raise InvalidInput("pricing must be a mapping of model → prices", field="pricing")
            table = overrides.get("models", overrides)
            if not isinstance(table, Mapping):
                raise InvalidInput("pricing.models must be a mapping", field="pricing")
            for model, spec in table.items():
                self._prices[str(model)] = _parse_price(str(model), spec)

    @classmethod
    def from_config(cls, source: Mapping[str, Any] | str | Path | None) -> PriceTable:
        """The built-in table plus overrides from a mapping or a YAML/JSON file path."""
        if source is None:
            return cls()
        if isinstance(source, Mapping):
            return cls(source)
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"cannot read price file {path}: {exc.strerror}",
                               field="pricing") from exc
        try:
            data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as exc:
            raise InvalidInput(f"price file {path} is not valid: {exc}", field="pricing") from exc
        return cls(data or {})

    def models(self) -> list[str]:
        return sorted(self._prices)

    def price(self, model: str) -> Price | None:
        """The price for `model` (see the module docstring for the lookup), or None."""
        found = self._lookup(model)
        if found is None and "/" in model:
            found = self._lookup(model.split("/", 1)[1])
        return found

    def _lookup(self, model: str) -> Price | None:
        exact = self._prices.get(model)
        if exact is not None:
            return exact
        best = ""
        for known in self._prices:
            if (len(known) > len(best) and model.startswith(known)
                    and model[len(known)] in _BOUNDARIES):
                best = known
        return self._prices[best] if best else None

    def cost(self, model: str, usage: Usage) -> float:
        """USD for `usage` on `model`; 0.0 for a model with no known price."""
        price = self.price(model)
        return price.cost(usage) if price is not None else 0.0


_configured: PriceTable | None = None


@cache
def _builtin_table() -> PriceTable:
    return PriceTable()


def default_price_table() -> PriceTable:
    """The table backends use when given none: the configured one, else the built-in."""
    return _configured if _configured is not None else _builtin_table()


def configure_default_prices(source: Mapping[str, Any] | str | Path | None) -> PriceTable:
    """Install price overrides (a mapping, a YAML/JSON file, or YAML text) for new backends."""
    global _configured
    if isinstance(source, str) and not Path(source).is_file():
        try:
            parsed = yaml.safe_load(source)
        except yaml.YAMLError as exc:
            raise InvalidInput(f"pricing is neither a file nor valid YAML: {exc}",
                               field="pricing") from exc
        if not isinstance(parsed, Mapping):
            raise InvalidInput("pricing must be a file or a YAML mapping", field="pricing")
        source = parsed
    _configured = None if source is None else PriceTable.from_config(source)
    return default_price_table()


def cost(model: str, usage: Usage, table: PriceTable | None = None) -> float:
    """USD for `usage` on `model` by `table` (default: the built-in prices)."""
    return (table or default_price_table()).cost(model, usage)

"""Catalog entries and the factories that turn an entry into a ModelBackend, one per kind.

Kinds: llamacpp (a GGUF file, optional GGUF LoRA), hf (a Hugging Face folder or GGUF through
transformers, optional PEFT LoRA folder), openai (any OpenAI-compatible server), anthropic.
Entry `options` are passed to the backend's constructor as keyword arguments. Local kinds
(llamacpp, hf) come behind the admission queue (cerebra.models.queued); remote ones are not
queued.

`register_kind` adds more (plugins), with what an entry of the kind needs and the model of
its `options` (cerebra.models.catalog_options for the built-in kinds). A module that
registers kinds when it is imported can be named in `KIND_PROVIDERS`; it is imported the
first time an entry names one of its kinds. So
`fake` (cerebra.testing.FakeModel) is registered by cerebra.testing itself, which no module of
cerebra.models imports.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from cerebra.errors import InvalidInput
from cerebra.models.base import Capabilities, ModelBackend
from cerebra.models.catalog_options import (
    AnthropicOptions,
    HFOptions,
    LlamaCppOptions,
    OpenAIOptions,
)
from cerebra.models.queued import queue_local

_HEX64 = r"^[0-9a-fA-F]{64}$"


class PriceSpec(BaseModel):
    """USD per token (`input`/`output`, `cached_input`) or per million tokens (`*_per_mtok`)."""

    model_config = ConfigDict(extra="forbid")
    input: float | None = Field(default=None, ge=0)
    output: float | None = Field(default=None, ge=0)
    input_per_mtok: float | None = Field(default=None, ge=0)
    output_per_mtok: float | None = Field(default=None, ge=0)
    # prompt tokens read from the provider's cache (default: the input price)
    cached_input: float | None = Field(default=None, ge=0)
    cached_input_per_mtok: float | None = Field(default=None, ge=0)

    def cached_per_token(self) -> float | None:
        if self.cached_input is not None:
            return self.cached_input
        return None if self.cached_input_per_mtok is None else self.cached_input_per_mtok / 1e6

    def per_token(self) -> tuple[float, float]:
        def side(direct: float | None, mtok: float | None) -> float:
            if direct is not None:
                return direct
            return (mtok or 0.0) / 1e6

        return (side(self.input, self.input_per_mtok), side(self.output, self.output_per_mtok))


class ModelEntry(BaseModel):
    """One model of the catalog."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$")
    kind: str
    path: Path | None = None
    base_url: str | None = None
    model: str | None = None  # the upstream model id (remote kinds); default: name
    api_key: SecretStr | None = None
    api_key_env: str | None = None
    sha256: str | None = Field(default=None, pattern=_HEX64)
    signature: str | None = None
    lora: Path | None = None
    lora_sha256: str | None = Field(default=None, pattern=_HEX64)
    lora_signature: str | None = None
    context_length: int | None = Field(default=None, ge=16)
    price: PriceSpec | None = None
    default: bool = False
    enabled: bool = True
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _needs(self) -> ModelEntry:
        spec = kind_spec(self.kind)
        if spec is None:
            raise ValueError(f"unknown kind {self.kind!r}; known: {', '.join(known_kinds())}")
        for needed in spec.needs:
            if not getattr(self, needed):
                raise ValueError(f"kind {self.kind} needs a {needed}")
        return self

    def secret(self) -> str | None:
        if self.api_key is not None:
            return self.api_key.get_secret_value()
        if self.api_key_env:
            value = os.environ.get(self.api_key_env)
            if not value:
                raise InvalidInput(f"environment variable {self.api_key_env} is not set",
                                   field="api_key_env")
            return value
        return None

    def costs(self) -> dict[str, Any]:
        if self.price is None:
            return {}
        cin, cout = self.price.per_token()
        return {"cost_per_input_token": cin, "cost_per_output_token": cout}


@dataclass
class CapabilityOverride:
    """A backend whose advertised capabilities (prices, context) the catalog overrides."""

    inner: ModelBackend
    override: Capabilities

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def capabilities(self) -> Capabilities:
        return self.override

    def __getattr__(self, item: str) -> Any:  # generate/stream/probe/… go to the inner one
        if item == "inner":
            raise AttributeError(item)
        return getattr(self.inner, item)


Factory = Callable[[ModelEntry], ModelBackend]
FACTORIES: dict[str, Factory] = {}
# kind -> module that calls register_kind for it when imported (imported on first use)
KIND_PROVIDERS: dict[str, str] = {"fake": "cerebra.testing"}


@dataclass(frozen=True)
class KindSpec:
    """What an entry of a kind consists of: the fields it needs (`path`, `base_url`),
    whether it has local weights (`files`: path, lora and their pins), and the model of its
    `options` (None: not declared, so an entry sent over the API may set none)."""

    needs: tuple[str, ...] = ()
    files: bool = False
    options: type[BaseModel] | None = None


KINDS: dict[str, KindSpec] = {}


def register_kind(kind: str, factory: Factory, *, needs: tuple[str, ...] = (),
                  files: bool = False, options: type[BaseModel] | None = None) -> None:
    """Teach the catalog a new kind of backend (plugins call this); see KindSpec."""
    if not re.fullmatch(r"[a-z][a-z0-9_-]*", kind):
        raise InvalidInput(f"bad kind name {kind!r}", field="kind")
    FACTORIES[kind] = factory
    KINDS[kind] = KindSpec(tuple(needs), files, options)


def unregister_kind(kind: str) -> None:
    """Forget a kind `register_kind` added (its plugin was unloaded); backends already built
    from its entries keep running."""
    FACTORIES.pop(kind, None)
    KINDS.pop(kind, None)


def kind_spec(kind: str) -> KindSpec | None:
    """The spec of `kind`, importing its provider module first if one is named."""
    return KINDS.get(kind) if factory(kind) is not None else None


def factory(kind: str) -> Factory | None:
    """The factory of `kind`, importing its provider module first if one is named."""
    if kind not in FACTORIES and kind in KIND_PROVIDERS:
        importlib.import_module(KIND_PROVIDERS[kind])
    return FACTORIES.get(kind)


def known_kinds() -> list[str]:
    return sorted({*FACTORIES, *KIND_PROVIDERS})


def _llamacpp(entry: ModelEntry) -> ModelBackend:
    from cerebra.models.llamacpp import LlamaCppBackend

    assert entry.path is not None
    options = dict(entry.options)
    if entry.context_length:
        options["n_ctx"] = entry.context_length
    backend: ModelBackend = queue_local(
        LlamaCppBackend(entry.path, name=entry.name, lora_path=entry.lora, **options))
    if entry.price is not None:
        cin, cout = entry.price.per_token()
        backend = CapabilityOverride(backend, replace(  # type: ignore[assignment]
            backend.capabilities, cost_per_input_token=cin, cost_per_output_token=cout))
    return backend


def _hf(entry: ModelEntry) -> ModelBackend:
    from cerebra.models.hf import TransformersBackend

    assert entry.path is not None
    return queue_local(TransformersBackend(entry.path, name=entry.name, lora_path=entry.lora,
                                           max_context=entry.context_length, **entry.costs(),
                                           **entry.options))


def _openai(entry: ModelEntry) -> ModelBackend:
    from cerebra.models.openai_http import OpenAIHTTPBackend

    assert entry.base_url is not None
    options = dict(entry.options)
    if entry.context_length:
        options["max_context"] = entry.context_length
    backend: ModelBackend = OpenAIHTTPBackend(
        entry.base_url, entry.model or entry.name, name=entry.name, api_key=entry.secret(),
        **entry.costs(), **options)
    return backend


def _anthropic(entry: ModelEntry) -> ModelBackend:
    from cerebra.models.anthropic import AnthropicBackend

    options = dict(entry.options)
    if entry.context_length:
        options["max_context"] = entry.context_length
    if entry.base_url:
        options["base_url"] = entry.base_url
    backend: ModelBackend = AnthropicBackend(
        entry.model or entry.name, name=entry.name, api_key=entry.secret(), **entry.costs(),
        **options)
    return backend


register_kind("llamacpp", _llamacpp, needs=("path",), files=True, options=LlamaCppOptions)
register_kind("hf", _hf, needs=("path",), files=True, options=HFOptions)
register_kind("openai", _openai, needs=("base_url",), options=OpenAIOptions)
register_kind("anthropic", _anthropic, options=AnthropicOptions)

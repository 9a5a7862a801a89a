"""Entries sent over the API: each kind's submission model, the OpenAPI schema narrowed to a
server's EntryPolicy, and Catalog.submit holding entries to both."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import cerebra.testing  # noqa: F401 - registers the fake kind
from cerebra.errors import CerebraError
from cerebra.models.anthropic import AnthropicBackend
from cerebra.models.catalog import Catalog
from cerebra.models.catalog_kinds import KINDS
from cerebra.models.catalog_policy import EntryPolicy
from cerebra.models.catalog_submission import openapi_schema
from cerebra.models.hf import TransformersBackend
from cerebra.models.llamacpp import LlamaCppBackend
from cerebra.models.openai_http import OpenAIHTTPBackend
from cerebra.models.registry import ModelRegistry
from cerebra.testing import FakeModel

CONSTRUCTORS = {"llamacpp": LlamaCppBackend, "hf": TransformersBackend,
                "openai": OpenAIHTTPBackend, "anthropic": AnthropicBackend, "fake": FakeModel}


@pytest.mark.parametrize("kind", sorted(CONSTRUCTORS))
def test_every_declared_option_is_a_constructor_argument(kind: str) -> None:
    options = KINDS[kind].options
    assert options is not None
    taken = inspect.signature(CONSTRUCTORS[kind]).parameters
    assert set(options.model_fields) <= set(taken)


def pattern(components: dict, kind: str, name: str) -> str:
    prop = components[f"CatalogEntry_{kind}"]["properties"][name]
    return next(b for b in prop.get("anyOf", [prop]) if b.get("type") == "string")["pattern"]


def test_the_schema_states_the_policy(tmp_path: Path) -> None:
    body, _ = openapi_schema(EntryPolicy())
    assert list(body["discriminator"]["mapping"]) == ["fake"]  # no folder, no host
    policy = EntryPolicy.of([tmp_path], ["api.example.com", "*.corp.net", "h:8080"])
    body, components = openapi_schema(policy)
    assert set(body["discriminator"]["mapping"]) == {"anthropic", "fake", "hf", "llamacpp",
                                                    "openai"}
    files = pattern(components, "llamacpp", "path")
    assert re.search(files, f"{tmp_path.resolve()}/a/m.gguf")
    for bad in ("/etc/passwd", f"{tmp_path.resolve()}/../x", f"{tmp_path.resolve()}/${{X}}"):
        assert not re.search(files, bad)
    hosts = pattern(components, "openai", "base_url")
    for url in ("https://api.example.com/v1", "http://a.b.corp.net:99", "http://h:8080/v1"):
        assert re.search(hosts, url)
    for url in ("http://h:9/v1", "http://corp.net/", "http://evil.net/api.example.com",
                "file:///etc"):
        assert not re.search(hosts, url)
    assert "base_url" in components["CatalogEntry_anthropic"]["required"]  # default host off
    _, components = openapi_schema(EntryPolicy.of([], ["api.anthropic.com"]))
    assert "base_url" not in components["CatalogEntry_anthropic"]["required"]


def test_submit_holds_an_entry_to_its_kind(tmp_path: Path) -> None:
    catalog = Catalog(ModelRegistry(), policy=EntryPolicy.of([tmp_path], []))

    def refused(spec: dict) -> CerebraError:
        with pytest.raises(CerebraError) as info:
            catalog.submit(spec)
        return info.value

    err = refused({"name": "a", "kind": "fake", "options": {"delay_s": 5}})
    assert (err.status_code, err.field) == (422, "options.delay_s")
    err = refused({"name": "a", "kind": "fake", "options": {"max_context": "64"}})
    assert (err.status_code, err.field) == (422, "options.max_context")
    err = refused({"name": "a", "kind": "fake", "path": str(tmp_path / "missing.gguf")})
    assert (err.status_code, err.field) == (404, "path")
    weights = tmp_path / "w.gguf"
    weights.write_bytes(b"GGUF weights")
    err = refused({"name": "a", "kind": "fake", "path": str(weights), "sha256": "0" * 64})
    assert err.status_code == 422  # a pinned hash the file does not have: the entry is wrong
    backend = catalog.submit({"name": "a", "kind": "fake",
                              "options": {"reply": "hi", "max_context": 64.0}})
    assert backend.capabilities.max_context == 64

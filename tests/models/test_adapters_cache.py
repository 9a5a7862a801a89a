"""A response cache in front of a served adapter keys on the adapter's version: after a swap
or rollback behind the same name "base:adapter", no answer of the replaced version is
served from the cache (cerebra.models.adapters.AdapterBackend.cache_identity)."""

from __future__ import annotations

from pathlib import Path

from cerebra.models.adapters import AdapterBackend
from cerebra.models.base import GenerationRequest
from cerebra.models.cache import CachedBackend, request_key
from cerebra.models.registry import ModelRegistry
from cerebra.testing import FakeModel

REQ = GenerationRequest(prompt="hello", max_tokens=8, temperature=0.0)


def test_cache_keys_of_one_served_name_differ_by_version() -> None:
    models = ModelRegistry()
    models.add(FakeModel(name="base"))
    v1 = AdapterBackend(models, "base", "base:legal", "v1", Path("/x/v1.gguf"))
    v2 = AdapterBackend(models, "base", "base:legal", "v2", Path("/x/v2.gguf"))
    plain = AdapterBackend(models, "base", "base:legal", None, None)  # rolled back to base
    keys = {CachedBackend(view)._key(REQ) for view in (v1, v2, plain)}
    assert len(keys) == 3 and None not in keys
    # through a wrapper too (metering wraps the cache's inner in the server)
    from cerebra.models.wrapper import WrapperBackend

    assert CachedBackend(WrapperBackend(v1))._key(REQ) == CachedBackend(v1)._key(REQ)
    # other models keep their keys
    assert CachedBackend(models.get("base"))._key(REQ) == request_key("base", REQ)

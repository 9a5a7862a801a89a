"""Effect checks of the catalog, cache, health, router and memory settings."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cerebra.brain import Brain
from cerebra.errors import InvalidInput
from cerebra.models.base import ProbeResult
from cerebra.runtime import load_embedder
from cerebra.server.app import create_app
from tests.effects.base import (
    WAIT,
    Env,
    catalog_json,
    effect,
    fake_of,
    text_of,
)
from tests.effects.core import held_fake


# -- the catalog -----------------------------------------------------------------------------
@effect("CEREBRA_CATALOG__FILE")
def _catalog_file(env: Env) -> None:
    path = env.tmp / "models.yaml"
    path.write_text("models:\n  - {name: extra, kind: fake, options: {reply: from the file}}\n")
    brain = env.brain(CEREBRA_CATALOG__FILE=str(path))
    assert brain.ask("hi", model="extra").answer == "from the file"


@effect("CEREBRA_CATALOG__INLINE")
def _catalog_inline(env: Env) -> None:
    extra = {"name": "extra", "kind": "fake", "options": {"reply": "from the variable"}}
    brain = env.brain(CEREBRA_CATALOG__INLINE=catalog_json(extra))
    assert brain.ask("hi", model="extra").answer == "from the variable"


@effect("CEREBRA_CATALOG__PRICING")
def _pricing(env: Env) -> None:
    from cerebra.models import pricing

    env.monkeypatch.setattr(pricing, "_configured", None)  # restored after the test
    env.brain(CEREBRA_CATALOG__PRICING="priced-model: {input_per_mtok: 3, output_per_mtok: 15}")
    assert pricing.default_price_table().price("priced-model") == pricing.Price(3e-6, 15e-6)


def weights(env: Env) -> Path:
    path = env.tmp / "weights.bin"
    path.write_bytes(b"some weights")
    return path


def serves(env: Env, entry: dict[str, Any], **values: str) -> bool:
    """Whether a catalog entry is served under these settings (else refused, and why)."""
    brain = env.brain(CEREBRA_CATALOG__INLINE=catalog_json(entry), **values)
    served = entry["name"] in brain.models.names()
    assert served or entry["name"] in brain.models.failures()
    return served


@effect("CEREBRA_CATALOG__REQUIRE_VERIFIED_WEIGHTS")
def _require_verified(env: Env) -> None:
    entry = {"name": "local", "kind": "fake", "path": str(weights(env))}
    assert serves(env, entry)
    assert not serves(env, entry, CEREBRA_CATALOG__REQUIRE_VERIFIED_WEIGHTS="true")


@effect("CEREBRA_CATALOG__TRUSTED_KEYS")
def _trusted_keys(env: Env) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from cerebra.models.signing import public_key_text, sign_weights

    key = Ed25519PrivateKey.generate()
    path = weights(env)
    entry = {"name": "signed", "kind": "fake", "path": str(path),
             "signature": sign_weights(path, private_key=key)}
    assert not serves(env, entry)  # no trusted key: the signature cannot be checked
    trusted = json.dumps([public_key_text(key.public_key())])
    assert serves(env, entry, CEREBRA_CATALOG__TRUSTED_KEYS=trusted)


@effect("CEREBRA_CATALOG__WEIGHTS_HMAC_KEY")
def _hmac_key(env: Env) -> None:
    from cerebra.models.signing import sign_weights

    path = weights(env)
    entry = {"name": "signed", "kind": "fake", "path": str(path),
             "signature": sign_weights(path, hmac_key=b"shared-key")}
    assert not serves(env, entry)
    assert serves(env, entry, CEREBRA_CATALOG__WEIGHTS_HMAC_KEY="shared-key")


# -- cache -----------------------------------------------------------------------------------
@effect("CEREBRA_CACHE__ENABLED")
def _cache_enabled(env: Env) -> None:
    brain = env.brain(CEREBRA_CACHE__ENABLED="true")
    first, second = (brain.ask("same question", memory=False) for _ in range(2))
    assert first.answer == second.answer and len(fake_of(brain).calls) == 1
    plain = env.brain(CEREBRA_CACHE__ENABLED="false", CEREBRA_HOME=str(env.tmp / "plain"))
    plain.ask("same question", memory=False)
    plain.ask("same question", memory=False)
    assert len(fake_of(plain).calls) == 2


@effect("CEREBRA_CACHE__TTL_S")
def _cache_ttl(env: Env) -> None:
    for ttl, calls in (("60", 1), ("0.01", 2)):
        brain = env.brain(CEREBRA_CACHE__ENABLED="true", CEREBRA_CACHE__TTL_S=ttl,
                          CEREBRA_HOME=str(env.tmp / ttl))
        brain.ask("same question", memory=False)
        time.sleep(0.05)  # past the short TTL (a lower bound: no flakiness)
        brain.ask("same question", memory=False)
        assert len(fake_of(brain).calls) == calls


@effect("CEREBRA_CACHE__MAX_ENTRIES")
def _cache_max_entries(env: Env) -> None:
    for size, calls in (("2", 2), ("1", 3)):  # with one entry, "second" evicts "first"
        brain = env.brain(CEREBRA_CACHE__ENABLED="true", CEREBRA_CACHE__MAX_ENTRIES=size,
                          CEREBRA_HOME=str(env.tmp / size))
        for prompt in ("first", "second", "first"):
            brain.ask(prompt, memory=False)
        assert len(fake_of(brain).calls) == calls


# -- health probes ---------------------------------------------------------------------------
def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.01)


@effect("CEREBRA_HEALTH__INTERVAL_S")
def _health_interval(env: Env) -> None:
    with TestClient(create_app(env.set(CEREBRA_HEALTH__INTERVAL_S="0"))) as client:
        assert client.app.state.health is None  # type: ignore[attr-defined]
    probes: list[float] = []

    def probe() -> ProbeResult:
        probes.append(time.monotonic())
        return ProbeResult(True, 0.0, "ok")

    held_fake(env, lambda request, index: None, probe)
    with TestClient(create_app(env.set(CEREBRA_HEALTH__INTERVAL_S="0.05"))) as client:
        assert client.app.state.health.interval_s == 0.05  # type: ignore[attr-defined]
        wait_for(lambda: len(probes) >= 3)  # probed again and again


@effect("CEREBRA_HEALTH__UNHEALTHY_AFTER")
def _unhealthy_after(env: Env) -> None:
    held_fake(env, lambda request, index: None, lambda: ProbeResult(False, 0.0, "down"))
    for after, leaves in (("1", True), ("2", False)):
        settings = env.set(CEREBRA_HEALTH__INTERVAL_S="3600",
                           CEREBRA_HEALTH__UNHEALTHY_AFTER=after)
        with TestClient(create_app(settings)) as client:
            monitor: Any = client.app.state.health  # type: ignore[attr-defined]
            wait_for(lambda m=monitor: bool(m.last_results()))  # the first round, at start
            available = client.app.state.brain.models.available()  # type: ignore[attr-defined]
            assert (settings.model.name not in available) is leaves


# -- router ----------------------------------------------------------------------------------
TWO = catalog_json({"name": "a", "kind": "fake"}, {"name": "b", "kind": "fake"})


@effect("CEREBRA_ROUTER__STRATEGY")
def _router_strategy(env: Env) -> None:
    assert env.brain(CEREBRA_CATALOG__INLINE=TWO).router is None
    brain = env.brain(CEREBRA_ROUTER__STRATEGY="thompson", CEREBRA_HOME=str(env.tmp / "r"))
    assert brain.router is not None and brain.models.default_name == "auto"
    routing = brain.ask("hi", memory=False).routing
    assert routing is not None and routing["strategy"] == "thompson"


@effect("CEREBRA_ROUTER__NAME")
def _router_name(env: Env) -> None:
    brain = env.brain(CEREBRA_CATALOG__INLINE=TWO, CEREBRA_ROUTER__STRATEGY="ucb1",
                      CEREBRA_ROUTER__NAME="pick")
    assert brain.models.default_name == "pick" and "auto" not in brain.models.names()
    assert brain.ask("hi", model="pick", memory=False).routing is not None


# -- memory ----------------------------------------------------------------------------------
TEA = [f"Alice drinks {kind} tea" for kind in ("green", "black", "mint", "white", "oolong")]


@effect("CEREBRA_MEMORY__ENABLED")
def _memory_enabled(env: Env) -> None:
    on = env.brain(CEREBRA_HOME=str(env.tmp / "on"))
    on.memory.add("", "Alice drinks green tea", user_id="u")
    answer = on.ask("what does Alice drink? tea", user_id="u")
    assert answer.memories and answer.stored_memory_id and on.memory.count("", user_id="u") == 2
    off = env.brain(CEREBRA_MEMORY__ENABLED="false", CEREBRA_HOME=str(env.tmp / "off"))
    off.memory.add("", "Alice drinks green tea", user_id="u")  # the memory API still works
    answer = off.ask("what does Alice drink? tea", user_id="u")
    assert answer.memories == [] and answer.stored_memory_id is None  # no recall, no store
    assert "green tea" not in text_of(fake_of(off).calls[-1])
    assert off.memory.count("", user_id="u") == 1


@effect("CEREBRA_MEMORY__TOP_K")
def _top_k(env: Env) -> None:
    brain = env.brain(CEREBRA_MEMORY__TOP_K="2")
    for text in TEA:
        brain.memory.add("", text, user_id="u")
    assert len(brain.ask("which tea does Alice drink?", user_id="u").memories) == 2


@effect("CEREBRA_MEMORY__TOKEN_BUDGET")
def _token_budget(env: Env) -> None:
    note = "Alice keeps her green tea in the blue tin on the top shelf of the kitchen cupboard"
    for budget, injected in (("512", True), ("5", False)):
        brain = env.brain(CEREBRA_MEMORY__TOKEN_BUDGET=budget,
                          CEREBRA_HOME=str(env.tmp / budget))
        brain.memory.add("", note, user_id="u")
        answer = brain.ask("where is the green tea?", user_id="u")
        assert bool(answer.memories) is injected
        assert ("blue tin" in text_of(fake_of(brain).calls[-1])) is injected


@effect("CEREBRA_MEMORY__MAX_CHARS")
def _max_chars(env: Env) -> None:
    brain = env.brain(CEREBRA_MEMORY__MAX_CHARS="50")
    with pytest.raises(InvalidInput, match="maximum is 50") as refused:
        brain.ask("x" * 51)
    assert refused.value.status_code == 422
    with pytest.raises(InvalidInput, match="maximum is 50"):
        brain.memory.add("", "y" * 51)
    assert brain.ask("x" * 50, memory=False).answer


@effect("CEREBRA_MEMORY__NEAR_DUPLICATE_THRESHOLD")
def _near_duplicates(env: Env) -> None:
    texts = ("Alice drinks green tea every single morning",
             "Alice drinks green tea every single morning too")
    for threshold, kept in ((None, 2), ("0.8", 1)):
        values = {"CEREBRA_HOME": str(env.tmp / str(threshold))}
        if threshold:
            values["CEREBRA_MEMORY__NEAR_DUPLICATE_THRESHOLD"] = threshold
        brain = env.brain(**values)
        for text in texts:
            brain.memory.add("agent", text)
        assert brain.memory.count("agent") == kept


class EmbedderRecorder:
    """Stands in for the MiniLM embedder: records its device, loads nothing."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs


class OnnxRecorder:
    """Stands in for the ONNX Runtime MiniLM embedder: records its cache and variant."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs


@effect("CEREBRA_MEMORY__EMBEDDER")
def _embedder(env: Env) -> None:
    assert env.brain(CEREBRA_MEMORY__EMBEDDER="fake").memory.embedder.model_id == "fake-embedder"
    env.monkeypatch.setattr("cerebra.memory.embedders.SentenceTransformerEmbedder",
                            EmbedderRecorder)
    assert isinstance(load_embedder(env.set(CEREBRA_MEMORY__EMBEDDER="minilm")),
                      EmbedderRecorder)
    env.monkeypatch.setattr("cerebra.memory.onnx_embedder.OnnxMiniLMEmbedder", OnnxRecorder)
    for choice, variant in (("minilm-onnx", "int8"), ("minilm-onnx-fp32", "fp32")):
        built = load_embedder(env.set(CEREBRA_MEMORY__EMBEDDER=choice,
                                      CEREBRA_HOME=str(env.tmp / "onnx-home")))
        assert isinstance(built, OnnxRecorder) and built.kwargs["variant"] == variant
        assert built.args == (Path(env.tmp / "onnx-home").resolve() / "models" / "onnx",)


@effect("CEREBRA_MEMORY__EMBEDDER_DEVICE")
def _embedder_device(env: Env) -> None:
    env.monkeypatch.setattr("cerebra.memory.embedders.SentenceTransformerEmbedder",
                            EmbedderRecorder)
    built = load_embedder(env.set(CEREBRA_MEMORY__EMBEDDER="minilm",
                                  CEREBRA_MEMORY__EMBEDDER_DEVICE="meta"))
    assert isinstance(built, EmbedderRecorder) and built.kwargs["device"] == "meta"


@effect("CEREBRA_MEMORY__PRUNE_INTERVAL_S")
def _prune_interval(env: Env) -> None:
    def schedules(brain: Brain) -> dict[str, float]:
        assert brain.jobs is not None
        return {s.name: s.every_s for s in brain.jobs.schedules()}

    assert "memory-prune" not in schedules(env.brain(CEREBRA_MEMORY__PRUNE_INTERVAL_S="0"))
    brain = env.brain(CEREBRA_MEMORY__PRUNE_INTERVAL_S="120", CEREBRA_HOME=str(env.tmp / "p"))
    assert schedules(brain)["memory-prune"] == 120

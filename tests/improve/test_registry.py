"""The registry of model versions (cerebra.improve.registry) on a real llama.cpp Gemma and
real GGUF LoRA adapters, a SQLite file: promotion verifies and hot-swaps, rollback restores
the previous version and then the base, refused gates and corrupt files leave serving as it
was, tenants are kept apart, and a restart restores what served."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cerebra.context import RequestContext
from cerebra.db import make_engine, upgrade
from cerebra.errors import Conflict, ModelVerificationError, NotFound
from cerebra.improve.registry import ModelRegistry, PromotionRefused
from cerebra.models.base import GenerationRequest
from cerebra.models.registry import ModelRegistry as Models
from tests.models.gguf_lora import make_gguf_lora

pytestmark = [pytest.mark.slow, pytest.mark.engine_in_process]  # swaps live backends

BASE = "gemma-3-270m"
NAME = f"{BASE}:legal"
REQ = GenerationRequest(prompt="The capital of France is", max_tokens=8, temperature=0.0)
ACME = RequestContext(tenant_id="acme")
OTHER = RequestContext(tenant_id="other")


@pytest.fixture(scope="module")
def gemma(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cerebra.models.weights import PackagedModel

    return PackagedModel.load().assemble_into(tmp_path_factory.mktemp("models"))


@pytest.fixture  # per test: the engine guard allows in-process loads inside a test only
def models(gemma: Path) -> Iterator[Models]:
    from cerebra.models.llamacpp import LlamaCppBackend

    reg = Models()
    backend = LlamaCppBackend(gemma, name=BASE, n_ctx=512)
    reg.add(backend)
    yield reg
    backend.close()


@pytest.fixture
def loras(gemma: Path, tmp_path: Path) -> dict[str, Path]:
    return {k: make_gguf_lora(gemma, tmp_path / f"{k}.gguf", scale=0.2, seed=s)
            for k, s in (("v1", 1), ("v2", 2))}


@pytest.fixture
def registry(tmp_path: Path, models: Models) -> Iterator[ModelRegistry]:
    engine = make_engine(f"sqlite:///{tmp_path / 'reg.db'}")
    upgrade(engine)
    decisions = {"r-refuse": "refuse", "r-ok": "promote"}
    yield ModelRegistry(engine, models, gate_decision=lambda _c, rid: decisions.get(rid))
    for name in [n for n in models.names() if n != BASE]:
        models.remove(name, close=True)
    engine.dispose()


def answer(models: Models, name: str) -> str:
    return models.get(name).generate(REQ).text


def test_promote_then_promote_again_then_roll_back_twice(
        registry: ModelRegistry, models: Models, loras: dict[str, Path]) -> None:
    base = answer(models, BASE)
    v1 = registry.add_candidate(ACME, BASE, "legal", loras["v1"],
                                {"dataset_version_id": "ds-1", "job_id": "job-1",
                                 "workflow": {"lora_r": 4}})
    assert (v1.name, v1.state, v1.dataset_version_id) == (NAME, "candidate", "ds-1")
    assert NAME not in models
    assert registry.promote(ACME, v1.id, reason="first").state == "serving"
    a1 = answer(models, NAME)
    assert a1 != base
    assert answer(models, BASE) == base  # the base name keeps the plain base
    v2 = registry.add_candidate(ACME, BASE, "legal", loras["v2"])
    registry.promote(ACME, v2.id)
    a2 = answer(models, NAME)
    assert a2 not in (base, a1)
    assert registry.get(ACME, v1.id).state == "retired"
    assert registry.serving(ACME, NAME).id == v2.id  # type: ignore[union-attr]

    back = registry.rollback(ACME, NAME, reason="bad answers")
    assert back is not None and back.id == v1.id
    assert answer(models, NAME) == a1
    assert registry.get(ACME, v2.id).state == "retired"
    assert registry.rollback(ACME, NAME) is None  # v1 replaced the plain base
    assert answer(models, NAME) == base  # the name still answers, from the base
    assert registry.serving(ACME, NAME) is None
    with pytest.raises(Conflict):
        registry.rollback(ACME, NAME)
    actions = [(p.action, p.from_version, p.to_version) for p in registry.history(ACME, NAME)]
    assert actions == [("promote", None, v1.id), ("promote", v1.id, v2.id),
                       ("rollback", v2.id, v1.id), ("rollback", v1.id, None)]
    assert [v.id for v in registry.versions(ACME, NAME)] == [v2.id, v1.id]


def test_a_changed_or_unloadable_file_is_refused_and_serving_is_unchanged(
        registry: ModelRegistry, models: Models, loras: dict[str, Path], tmp_path: Path
) -> None:
    v1 = registry.promote(ACME, registry.add_candidate(ACME, BASE, "legal", loras["v1"]).id)
    served = answer(models, NAME)
    v2 = registry.add_candidate(ACME, BASE, "legal", loras["v2"])
    with loras["v2"].open("r+b") as fh:  # corrupted after it was recorded
        fh.seek(-16, 2)
        fh.write(b"\xff" * 16)
    with pytest.raises(ModelVerificationError, match="changed since it was added"):
        registry.promote(ACME, v2.id)
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF" + b"\0" * 64)
    v3 = registry.add_candidate(ACME, BASE, "legal", junk)
    with pytest.raises(ModelVerificationError, match="cannot load the LoRA adapter"):
        registry.promote(ACME, v3.id)
    assert registry.serving(ACME, NAME).id == v1.id  # type: ignore[union-attr]
    assert answer(models, NAME) == served
    assert {v.state for v in registry.versions(ACME, NAME) if v.id != v1.id} == {"candidate"}


def test_a_refused_gate_blocks_promotion_unless_forced(
        registry: ModelRegistry, models: Models, loras: dict[str, Path]) -> None:
    v1 = registry.add_candidate(ACME, BASE, "legal", loras["v1"],
                                {"gate_report_id": "r-refuse"})
    with pytest.raises(PromotionRefused):
        registry.promote(ACME, v1.id)
    assert NAME not in models
    v2 = registry.add_candidate(ACME, BASE, "legal", loras["v2"])
    assert registry.record_gate(ACME, v2.id, "r-x", "refuse").state == "refused"
    with pytest.raises(PromotionRefused):
        registry.promote(ACME, v2.id)
    assert registry.promote(ACME, v2.id, force=True, reason="operator").state == "serving"
    assert registry.history(ACME, NAME)[-1].forced is True
    v3 = registry.add_candidate(ACME, BASE, "legal", loras["v1"])
    registry.promote(ACME, v3.id, report_id="r-ok")
    assert registry.history(ACME, NAME)[-1].forced is False


def test_tenants_are_kept_apart(registry: ModelRegistry, models: Models,
                                loras: dict[str, Path]) -> None:
    v1 = registry.promote(ACME, registry.add_candidate(ACME, BASE, "legal", loras["v1"]).id)
    with pytest.raises(NotFound):
        registry.get(OTHER, v1.id)
    with pytest.raises(NotFound):
        registry.promote(OTHER, v1.id)
    assert registry.versions(OTHER, NAME) == []
    with pytest.raises(Conflict):
        registry.rollback(OTHER, NAME)
    theirs = registry.add_candidate(OTHER, BASE, "legal", loras["v2"])
    with pytest.raises(Conflict, match="another tenant"):
        registry.promote(OTHER, theirs.id)
    with pytest.raises(Conflict, match="catalog model"):
        _promote_over_catalog(registry, models, loras)
    assert registry.serving(ACME, NAME).id == v1.id  # type: ignore[union-attr]


def _promote_over_catalog(registry: ModelRegistry, models: Models,
                          loras: dict[str, Path]) -> Any:
    models.add(models.get(BASE), name=f"{BASE}:plain")  # a catalog model with such a name
    try:
        version = registry.add_candidate(ACME, BASE, "plain", loras["v2"])
        return registry.promote(ACME, version.id)
    finally:
        models.remove(f"{BASE}:plain")


def test_restore_serves_again_after_a_restart(
        registry: ModelRegistry, models: Models, loras: dict[str, Path]) -> None:
    registry.promote(ACME, registry.add_candidate(ACME, BASE, "legal", loras["v1"]).id)
    expected = answer(models, NAME)
    registry.promote(ACME, registry.add_candidate(ACME, BASE, "other", loras["v2"]).id)
    registry.rollback(ACME, f"{BASE}:other")  # back to the base under that name
    models.remove(NAME, close=True)
    models.remove(f"{BASE}:other", close=True)
    fresh = ModelRegistry(registry.engine, models, gate_decision=lambda _c, _r: None)
    assert fresh.restore() == [f"{BASE}:legal", f"{BASE}:other"]
    assert answer(models, NAME) == expected
    assert answer(models, f"{BASE}:other") == answer(models, BASE)


def test_promoting_the_serving_version_again_serves_it_here_and_records_nothing(
        registry: ModelRegistry, models: Models, loras: dict[str, Path]) -> None:
    v1 = registry.promote(ACME, registry.add_candidate(ACME, BASE, "legal", loras["v1"]).id)
    expected = answer(models, NAME)
    models.remove(NAME, close=True)  # as in a process that has not served it yet
    assert registry.promote(ACME, v1.id).state == "serving"
    assert answer(models, NAME) == expected
    assert len(registry.history(ACME, NAME)) == 1


def test_sync_serves_what_another_process_promoted_and_rolled_back(
        registry: ModelRegistry, models: Models, loras: dict[str, Path], gemma: Path) -> None:
    from cerebra.models.llamacpp import LlamaCppBackend

    server_models = Models()  # a second process: its own models, the same database
    backend = LlamaCppBackend(gemma, name=BASE, n_ctx=512)
    server_models.add(backend)
    server = ModelRegistry(registry.engine, server_models, gate_decision=lambda _c, _r: None)
    try:
        assert server.sync() == [] and NAME not in server_models
        v1 = registry.promote(ACME, registry.add_candidate(ACME, BASE, "legal", loras["v1"]).id)
        assert server.sync() == [NAME]  # the worker's promotion, served here too
        assert answer(server_models, NAME) == answer(models, NAME) != answer(models, BASE)
        view = server_models.get(NAME)
        assert server.sync() == [NAME] and server_models.get(NAME) is view  # nothing to do
        v2 = registry.promote(ACME, registry.add_candidate(ACME, BASE, "legal", loras["v2"]).id)
        server.sync()
        assert answer(server_models, NAME) == answer(models, NAME)
        registry.rollback(ACME, NAME)  # back to v1
        server.sync()
        assert registry.serving(ACME, NAME).id == v1.id != v2.id
        assert answer(server_models, NAME) == answer(models, NAME)
        registry.rollback(ACME, NAME)  # back to the plain base
        server.sync()
        assert answer(server_models, NAME) == answer(server_models, BASE)
    finally:
        for name in [n for n in server_models.names() if n != BASE]:
            server_models.remove(name, close=True)
        backend.close()

"""LoRA adapters per request on one loaded llama.cpp model (cerebra.models.adapters): base
and adapter answers differ on the same model, two adapters serve at once, and adapters added
and removed while a stream runs lose nothing. llama.cpp runs in a child process
(cerebra.isolated): a native crash fails the test, not the run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cerebra.isolated import run_in_child
from cerebra.models.base import GenerationRequest
from tests.models.gguf_lora import make_gguf_lora

pytestmark = pytest.mark.slow

BASE = "gemma-3-270m"
REQ = GenerationRequest(prompt="The capital of France is", max_tokens=8, temperature=0.0)


@pytest.fixture(scope="module")
def gemma(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cerebra.models.weights import PackagedModel

    return PackagedModel.load().assemble_into(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def loras(gemma: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("loras")
    return {name: make_gguf_lora(gemma, folder / f"{name}.gguf", scale=0.2, seed=seed)
            for name, seed in (("a", 1), ("b", 2), ("c", 3))}


def _served(gemma: Path, loras: dict[str, Path]) -> tuple[Any, dict[str, Any]]:
    from cerebra.models.adapters import AdapterBackend
    from cerebra.models.llamacpp import LlamaCppBackend
    from cerebra.models.registry import ModelRegistry

    models = ModelRegistry()
    models.add(LlamaCppBackend(gemma, name=BASE, n_ctx=512))
    views = {k: AdapterBackend(models, BASE, f"{BASE}:{k}", k, p) for k, p in loras.items()}
    return models, views


def answers_in_turn(gemma: Path, loras: dict[str, Path]) -> dict[str, Any]:
    """In the child: base, a, b, base, a, b answered in turn on one loaded model."""
    models, views = _served(gemma, loras)
    base = models.get(BASE)
    out: dict[str, Any] = {"base": [], "a": [], "b": []}
    for _ in range(2):
        out["base"].append(base.generate(REQ).text)
        for k in ("a", "b"):
            gen = views[k].generate(REQ)
            out[k].append(gen.text)
            out[f"model_{k}"] = gen.model
    out["a_twice"] = views["a"].generate(REQ).text  # the same adapter right after itself
    out["loaded"] = base.adapters.keys()
    return out


def test_base_and_two_adapters_answer_differently_on_one_model(
        gemma: Path, loras: dict[str, Path]) -> None:
    out = run_in_child(answers_in_turn, gemma, loras)
    assert out["loaded"] == ["a", "b"]  # both at once, on the one model
    assert out["model_a"] == f"{BASE}:a"
    for k in ("base", "a", "b"):  # the same answer each time: no KV reused across adapters
        assert out[k][0] == out[k][1], k
    assert out["a_twice"] == out["a"][0]  # no prompt cache reused under an adapter
    assert out["a"][0] != out["base"][0]
    assert out["b"][0] != out["base"][0]
    assert out["a"][0] != out["b"][0]


def swap_while_streaming(gemma: Path, loras: dict[str, Path]) -> dict[str, Any]:
    """In the child: a's stream runs while c is added and a and b are removed; then a's
    answer alone, the pool's keys and what a request for a removed adapter gets."""
    from cerebra.errors import BackendError
    from cerebra.models.adapters import ADAPTER_KEY

    models, views = _served(gemma, {k: loras[k] for k in ("a", "b")})
    base = models.get(BASE)
    views["b"].prepare()
    stream = views["a"].stream(REQ)
    pieces = [next(stream).text]  # a is generating now, holding the model
    base.adapters.load("c", loras["c"])
    base.adapters.unload("a")  # in use: freed after the stream
    base.adapters.unload("b")  # idle: freed at the next generation
    pieces += [chunk.text for chunk in stream]
    keys_after = base.adapters.keys()
    try:
        base.generate(REQ.with_(extra={ADAPTER_KEY: "b"}))
        removed = "answered"
    except BackendError as exc:
        removed = str(exc)
    alone = views["a"].generate(REQ).text  # reloaded on demand by the served view
    return {"streamed": "".join(pieces), "alone": alone, "keys_after": keys_after,
            "removed": removed, "keys_end": base.adapters.keys()}


def test_adding_and_removing_adapters_while_a_stream_runs_loses_nothing(
        gemma: Path, loras: dict[str, Path]) -> None:
    out = run_in_child(swap_while_streaming, gemma, loras)
    assert out["streamed"] == out["alone"]
    assert out["keys_after"] == ["c"]
    assert "'b' is not loaded" in out["removed"]
    assert out["keys_end"] == ["a", "c"]


def refuses_a_bad_file(gemma: Path, bad: Path) -> str:
    from cerebra.errors import ModelVerificationError

    models, _ = _served(gemma, {})
    try:
        models.get(BASE).adapters.load("bad", bad)
    except ModelVerificationError as exc:
        return str(exc)
    return "loaded"


def test_a_file_that_is_not_a_lora_is_refused(gemma: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    assert "cannot load the LoRA adapter" in run_in_child(refuses_a_bad_file, gemma, bad)

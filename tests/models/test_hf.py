"""transformers backend: a local HF folder (a tiny random model), PEFT LoRA adapters, and the
packaged Gemma 3 270M GGUF dequantized through transformers (slow)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from cerebra.errors import BackendError, InvalidInput, PromptTooLong
from cerebra.models.base import GenerationRequest, Message
from cerebra.models.cancellation import Cancellation
from cerebra.models.hf import StopTrimmer, TransformersBackend
from tests.models.tiny_hf import make_lora, make_tiny_model

GREEDY = GenerationRequest(prompt="the cat sat on", max_tokens=8, temperature=0.0)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def tiny(tiny_dir: Path) -> TransformersBackend:
    return TransformersBackend(tiny_dir, name="tiny", max_context=64, n_threads=1)


def test_stop_trimmer_holds_back_partial_stops() -> None:
    trimmer = StopTrimmer(("\nUser:",))
    assert trimmer.feed("Hello\nUs") == "Hel"  # "lo\nUs" might start a stop: held back
    assert trimmer.feed("er: more") == "lo" and trimmer.stopped
    plain = StopTrimmer(())
    assert plain.feed("abc") == "abc" and plain.flush() == ""


def test_generate_stream_and_usage(tiny: TransformersBackend) -> None:
    out = tiny.generate(GREEDY)
    assert out.model == "tiny" and out.text
    assert out.usage.prompt_tokens == tiny.count_tokens("the cat sat on") == 4
    assert 0 < out.usage.completion_tokens <= 8 and out.finish_reason in ("stop", "length")
    chunks = list(tiny.stream(GREEDY))
    assert "".join(c.text for c in chunks) == out.text
    assert chunks[-1].usage == out.usage and chunks[-1].finish_reason == out.finish_reason
    assert tiny.capabilities.max_context == 64 and tiny.probe().ok


async def test_async_pair(tiny: TransformersBackend) -> None:
    out = await tiny.agenerate(GREEDY)
    assert "".join([c.text async for c in tiny.astream(GREEDY)]) == out.text


def test_stop_sequences_cut_generate_and_stream(tiny: TransformersBackend) -> None:
    full = tiny.generate(GREEDY.with_(max_tokens=12)).text
    words = full.split()
    assert len(words) >= 4
    stop = " " + words[2]
    cut = full[: full.index(stop)]
    request = GREEDY.with_(max_tokens=12, stop=(stop,))
    out = tiny.generate(request)
    assert out.text == cut and out.finish_reason == "stop"
    assert "".join(c.text for c in tiny.stream(request)) == cut


def test_chat_messages_and_seeded_sampling(tiny: TransformersBackend) -> None:
    chat = GenerationRequest(messages=(Message("system", "be brief"), Message("user", "hello")),
                             max_tokens=6, temperature=0.9, seed=3)
    assert tiny.generate(chat).text == tiny.generate(chat).text  # same seed, same sample
    assert tiny.generate(chat).usage.prompt_tokens > 2


def test_prompt_too_long_and_bad_path(tiny: TransformersBackend, tmp_path: Path) -> None:
    with pytest.raises(PromptTooLong):
        tiny.generate(GenerationRequest(prompt="the cat " * 40))
    with pytest.raises(BackendError, match="cannot load"):
        TransformersBackend(tmp_path)


def test_peft_lora_adapters(tiny_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    base_model: Any = AutoModelForCausalLM.from_pretrained(str(tiny_dir))
    adapter = make_lora(base_model, tmp_path / "lora")
    other = make_lora(base_model, tmp_path / "lora2", seed=7)
    plain = TransformersBackend(tiny_dir, name="plain")
    tuned = TransformersBackend(tiny_dir, name="tuned", lora_path=adapter)
    base_text = plain.generate(GREEDY.with_(max_tokens=12)).text
    tuned_text = tuned.generate(GREEDY.with_(max_tokens=12)).text
    assert tuned.adapters == ["default"] and tuned_text != base_text
    off = GREEDY.with_(max_tokens=12, extra={"lora": "none"})
    assert tuned.generate(off).text == base_text
    tuned.add_adapter("second", other, make_default=False)
    second = tuned.generate(GREEDY.with_(max_tokens=12, extra={"lora": "second"})).text
    assert second != tuned_text and tuned.generate(GREEDY.with_(max_tokens=12)).text == tuned_text
    assert "".join(c.text for c in tuned.stream(off)) == base_text
    with pytest.raises(InvalidInput, match="no LoRA adapter 'ghost'"):
        tuned.generate(GREEDY.with_(extra={"lora": "ghost"}))
    with pytest.raises(InvalidInput):
        plain.generate(GREEDY.with_(extra={"lora": "default"}))


@pytest.mark.slow
def test_packaged_gemma_gguf_through_transformers_with_lora(tmp_path: Path) -> None:
    """The Gemma 3 270M GGUF, dequantized by transformers on CPU (about 1.5 minutes)."""
    from cerebra.models.weights import PackagedModel

    gguf = PackagedModel.load().assemble_into(tmp_path / "models")
    gemma = TransformersBackend(gguf, name="gemma-hf", max_context=2048)
    request = GenerationRequest(prompt="The capital of France is", max_tokens=6,
                                temperature=0.0)
    out = gemma.generate(request)
    assert out.text.strip() and out.usage.completion_tokens > 0
    assert "".join(c.text for c in gemma.stream(request)) == out.text
    chat = gemma.generate(GenerationRequest(messages=(Message("user", "Say hello."),),
                                            max_tokens=8, temperature=0.0))
    assert "User:" not in chat.text  # the transcript's stop sequence cut the turn
    adapter = make_lora(gemma.model, tmp_path / "gemma-lora", r=2)
    gemma.add_adapter("tiny", adapter)
    assert gemma.generate(request).text != out.text
    assert gemma.generate(request.with_(extra={"lora": "none"})).text == out.text


def test_cancellation_stops_between_tokens_and_busy_probe(tiny: TransformersBackend) -> None:
    ticks = itertools.count()  # the clock moves one step each time the token is checked
    token = Cancellation(timeout_s=6, clock=lambda: float(next(ticks)))
    out = tiny.generate(GREEDY.with_(max_tokens=40, cancellation=token))
    assert out.finish_reason == "timeout" and 0 < out.usage.completion_tokens <= 6
    token = Cancellation()
    stream = tiny.stream(GREEDY.with_(max_tokens=40, cancellation=token))
    assert next(stream).text
    token.cancel()
    last = list(stream)[-1]
    assert last.finish_reason == "cancelled"
    assert last.usage is not None and last.usage.completion_tokens < 40
    with tiny._lock:  # a generation holds the model: the probe answers at once
        assert tiny.probe().detail == "busy"
    assert tiny.probe().detail == "ok"

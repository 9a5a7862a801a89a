"""Perplexity of text under a GGUF model through llama.cpp, optionally with a LoRA adapter
GGUF applied — the gate's guard against an adapter that forgets general language — and the
held-out general text it is measured on.

The shipped text (cerebra/improve/data/general.txt, about 4.7 KB) is the Gettysburg Address,
the opening of the US Declaration of Independence and the Preamble of the US Constitution
(all public domain), followed by plain everyday prose written for this project. None of it is
in any kit or training set.

The text is tokenised once and scored in consecutive windows of `n_ctx` tokens (each window
opened by BOS): the mean negative log-likelihood of every token after a window's first,
exponentiated. Deterministic: the same model, adapter and text give the same figure.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from cerebra.errors import CerebraError, InvalidInput

ROWS = 32  # logit rows turned into log-probabilities at a time (each row is the vocabulary)


class PerplexityError(CerebraError):
    """The model or the adapter could not be loaded, or there was nothing to score."""

    status_code = 422
    code = "perplexity_error"


def general_text() -> str:
    """The shipped held-out general English text."""
    return resources.files("cerebra.improve").joinpath("data/general.txt").read_text("utf-8")


def _load(model_path: Path, lora_path: Path | None, n_ctx: int) -> Any:
    from llama_cpp import Llama

    for path in (model_path, lora_path):
        if path is not None and not Path(path).is_file():
            raise PerplexityError(f"no such file: {path}")
    try:
        return Llama(model_path=str(model_path), lora_path=str(lora_path) if lora_path else None,
                     n_ctx=n_ctx, n_batch=n_ctx, logits_all=True, verbose=False, seed=0)
    except (ValueError, RuntimeError) as exc:
        raise PerplexityError(f"cannot load {model_path} (adapter {lora_path}): {exc}") from None


def _window_nll(llm: Any, window: list[int]) -> float:
    """Sum of -log p(token_i | tokens before it) over positions 1.. of the window."""
    llm.reset()
    llm.eval(window)
    scores = llm.scores
    total = 0.0
    for start in range(0, len(window) - 1, ROWS):
        stop = min(start + ROWS, len(window) - 1)
        logits = np.asarray(scores[start:stop], dtype=np.float64)
        peak = logits.max(axis=1, keepdims=True)
        lse = peak[:, 0] + np.log(np.exp(logits - peak).sum(axis=1))
        targets = np.asarray(window[start + 1:stop + 1])
        total += float(np.sum(lse - logits[np.arange(stop - start), targets]))
    return total


def gguf_perplexity(model_path: Path | str, texts: Sequence[str] | str, *,
                    lora_path: Path | str | None = None, n_ctx: int = 512,
                    max_tokens: int | None = 4096) -> float:
    """Perplexity of `texts` (joined by blank lines) under the GGUF at `model_path`, with the
    LoRA adapter GGUF at `lora_path` applied when given. At most `max_tokens` are scored."""
    if not 16 <= n_ctx <= 8192:
        raise InvalidInput("n_ctx must be in [16, 8192]", field="n_ctx")
    text = texts if isinstance(texts, str) else "\n\n".join(texts)
    llm = _load(Path(model_path), Path(lora_path) if lora_path else None, n_ctx)
    try:
        bos = llm.token_bos()
        tokens = llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        if max_tokens is not None:
            tokens = tokens[:max_tokens]
        step = n_ctx - 1
        windows = [[bos, *tokens[i:i + step]] for i in range(0, len(tokens), step)]
        windows = [w for w in windows if len(w) > 1]
        if not windows:
            raise PerplexityError("no text to score")
        nll = sum(_window_nll(llm, w) for w in windows)
        count = sum(len(w) - 1 for w in windows)
    finally:
        llm.close()
    return math.exp(nll / count)


def perplexity_of(model_path: Path | str, *, lora_path: Path | str | None = None,
                  n_ctx: int = 512, max_tokens: int | None = 4096,
                  timeout_s: float = 1800.0) -> Callable[[str], float]:
    """A text -> perplexity callable for one side of the gate (`evaluate_gate(ppl=...)`).
    Each call loads the model in a child process (cerebra.isolated.run_in_child), so a
    native crash of llama.cpp fails the evaluation, not the process running it."""
    def ppl(text: str) -> float:
        from cerebra.isolated import run_in_child

        return run_in_child(gguf_perplexity, model_path, text, lora_path=lora_path,
                            n_ctx=n_ctx, max_tokens=max_tokens, timeout=timeout_s)
    return ppl

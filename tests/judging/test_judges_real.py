"""Both real local models compete (Gemma 3 270M and SmolLM2 135M Instruct) and a real local
model judges them — SmolLM2, through Brain, in both orders. Whatever the small judge says,
the competition must complete with a verdict whose every tie has a reason.

llama.cpp never runs in the pytest process: the competition runs in a child process
(cerebra.isolated.run_in_child)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

GEMMA, SMOL = "gemma-3-270m", "smollm2-135m-instruct"
QUESTION = "What is the capital of France? Answer in one short sentence."


@pytest.fixture
def real_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, gguf_path: Path,
             gguf_sha256: str) -> None:
    """Both real models (Gemma pre-assembled), the fake embedder; children inherit it."""
    for key in [k for k in os.environ if k.startswith("CEREBRA_")]:
        monkeypatch.delenv(key)
    for key, value in {"CEREBRA_HOME": str(tmp_path / "h"),
                       "CEREBRA_MODEL__PATH": str(gguf_path),
                       "CEREBRA_MODEL__SHA256": gguf_sha256,
                       "CEREBRA_MODEL__N_CTX": "1024",
                       "CEREBRA_MEMORY__EMBEDDER": "fake",
                       "CEREBRA_HEALTH__INTERVAL_S": "0"}.items():
        monkeypatch.setenv(key, value)


def _competition() -> dict[str, Any]:
    """In a child: a Brain from settings; the two models compete, SmolLM2 judges."""
    from cerebra.brain import Brain
    from cerebra.config import get_settings
    from cerebra.judging.compete import compete
    from cerebra.judging.model_judge import ModelJudge

    brain = Brain.from_settings(get_settings())
    try:
        judge = ModelJudge(SMOL, brain=brain, max_tokens=48)
        result = compete(QUESTION, [f"model:{GEMMA}", f"model:{SMOL}"], judge=judge,
                         brain=brain, max_tokens=32, temperature=0.0)
        return {"names": brain.models.names(), "result": result.to_dict(),
                "judged": [r["endpoint"] for r in brain.ledger.recent(10)]}
    finally:
        brain.close()


def test_both_local_models_compete_and_a_local_model_judges(real_env: None) -> None:
    from cerebra.isolated import run_in_child

    got = run_in_child(_competition, timeout=600)
    assert set(got["names"]) >= {GEMMA, SMOL}
    result = got["result"]
    entries = {e["contestant_id"]: e for e in result["entries"]}
    assert set(entries) == {GEMMA, SMOL}
    for name, entry in entries.items():
        assert entry["model"] == name and entry["answer"].strip() and not entry["error"]
        assert entry["trace_id"]
    verdict = result["verdict"]
    assert verdict["judge"] == f"model:{SMOL}:pairwise"
    assert verdict["rationale"] and len(verdict["comparisons"]) == 1
    assert sorted(verdict["scores"].values()) in ([0.0, 1.0], [0.5, 0.5])
    if verdict["winner"] is None:  # a tie: disagreeing orders or unparseable replies, named
        assert "tie" in verdict["rationale"]
    else:
        assert verdict["agreement"] == 1.0
    assert got["judged"].count("judge") == 2 and got["judged"].count("compete") == 2
    feedback = result["effects"]["feedback"]
    if verdict["agreement"] is None:  # the judge could not judge: nothing made up is fed back
        assert verdict["failures"] and feedback.startswith("skipped")
    elif verdict["agreement"] == 0.0:  # both orders picked their first answer: position only
        assert feedback.startswith("skipped") and "order" in feedback
    else:  # each answer's score went back as its feedback
        assert set(feedback) == {GEMMA, SMOL}

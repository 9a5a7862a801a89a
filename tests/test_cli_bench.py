"""`cerebra bench memory` on a tiny LoCoMo-format file (fake embedder via settings is not
used by the benchmark, so this runs the real MiniLM: slow), and its input errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import run_cli


def _tiny_locomo(path: Path) -> Path:
    conv = {
        "speaker_a": "Ana",
        "speaker_b": "Bo",
        "session_1_date_time": "1:56 pm on 8 May, 2023",
        "session_1": [
            {"speaker": "Ana", "dia_id": "D1:1", "text": "I adopted a grey cat named Miso."},
            {"speaker": "Bo", "dia_id": "D1:2", "text": "Lovely! I started learning the cello."},
            {"speaker": "Ana", "dia_id": "D1:3", "text": "We are moving to Porto next spring."},
        ],
    }
    qa = [
        {
            "question": "What is the name of Ana's cat?",
            "answer": "Miso",
            "evidence": ["D1:1"],
            "category": 4,
        },
        {
            "question": "Which instrument is Bo learning?",
            "answer": "cello",
            "evidence": ["D1:2"],
            "category": 4,
        },
        {
            "question": "Ignored adversarial",
            "adversarial_answer": "x",
            "evidence": ["D1:3"],
            "category": 5,
        },
    ]
    path.write_text(json.dumps([{"sample_id": "t1", "conversation": conv, "qa": qa}]))
    return path


@pytest.mark.slow
def test_bench_memory_prints_recall(tmp_path: Path) -> None:
    data = _tiny_locomo(tmp_path / "tiny.json")
    result = run_cli("bench", "memory", "--dataset", str(data), "--k", "1,2")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["questions"] == 2
    assert report["recall"]["R@2"] >= report["recall"]["R@1"] > 0
    assert report["ingest"]["raw_embedder_per_s"] > 0


@pytest.mark.parametrize(
    "args",
    [
        ("bench", "memory", "--dataset", "/nonexistent.json"),
        ("bench", "memory", "--dataset", "{data}", "--k", "0"),
        ("bench", "memory", "--dataset", "{data}", "--k", "a,b"),
        ("bench", "memory", "--dataset", "{data}", "--backend", "oracle"),
        ("bench", "memory-scale", "--n", "-5"),
    ],
)
def test_bench_bad_input(tmp_path: Path, args: tuple[str, ...]) -> None:
    data = _tiny_locomo(tmp_path / "tiny.json")
    result = run_cli(*(a.replace("{data}", str(data)) for a in args))
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error:") and result.stderr.strip().count("\n") == 0

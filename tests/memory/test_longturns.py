"""The long-turn set derived from LoCoMo (cerebra.bench.longturns): deterministic, turns of
the asked length, every question's evidence mapped to the derived turn that contains the
original utterance, distractor speakers renamed, and the result readable by the LoCoMo
loader that `cerebra bench memory` uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cerebra.bench.locomo import load_locomo
from cerebra.bench.longturns import ASSISTANT, USER, derive_long_turns, write_long_turns
from cerebra.errors import InvalidInput


def conversation(sid: str, a: str, b: str, sessions: int = 3, turns: int = 40) -> dict[str, Any]:
    conv: dict[str, Any] = {"speaker_a": a, "speaker_b": b}
    for s in range(1, sessions + 1):
        conv[f"session_{s}_date_time"] = f"1:00 pm on {s + (3 if sid == 'y' else 0)} May, 2023"
        conv[f"session_{s}"] = [
            {"speaker": a if n % 2 == 0 else b, "dia_id": f"D{s}:{n + 1}",
             "text": f"{sid} utterance {s}-{n} where {b} and {a} talk about topic{n} at length"}
            for n in range(turns)
        ]
    qa = [{"question": f"What about topic{n}?", "answer": "x", "category": 4,
           "evidence": [f"D2:{n + 1}", f"D3:{n + 1}"]} for n in range(0, turns, 7)]
    qa.append({"question": "adversarial", "answer": "x", "category": 5, "evidence": ["D1:1"]})
    return {"sample_id": sid, "conversation": conv, "qa": qa}


SOURCE = [conversation("x", "Ann", "Ben"), conversation("y", "Cid", "Dee")]


def _turns(conv: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["dia_id"]: t for k, v in conv["conversation"].items()
            if k.startswith("session_") and isinstance(v, list) for t in v}


def test_derived_turns_are_long_and_evidence_follows_the_text() -> None:
    data = derive_long_turns(SOURCE, seed=3, min_chars=300, max_chars=500, distractors=1)
    assert data == derive_long_turns(SOURCE, seed=3, min_chars=300, max_chars=500,
                                     distractors=1)
    first = data[0]
    turns = _turns(first)
    assert len(turns) < 6 * 40  # regrouped
    assistant = [t for t in turns.values() if t["speaker"] == ASSISTANT]
    assert assistant and all(len(t["text"]) <= 500 for t in assistant)
    assert {t["speaker"] for t in turns.values()} == {USER, ASSISTANT}
    for q, source_q in zip(first["qa"], SOURCE[0]["qa"], strict=False):
        n = int(source_q["evidence"][0].split(":")[1]) - 1
        text = " ".join(turns[e]["text"] for e in q["evidence"])
        assert f"x utterance 2-{n} " in text and f"x utterance 3-{n} " in text
    assert all(q["category"] != 5 for q in first["qa"])
    # the distractor's speakers carry the haystack's own names
    every = " ".join(t["text"] for t in turns.values())
    assert "y utterance" in every and "Cid" not in every and "Dee" not in every


def test_the_loader_reads_the_derived_file(tmp_path: Path) -> None:
    source = tmp_path / "source.json"
    import json

    source.write_text(json.dumps(SOURCE), encoding="utf-8")
    summary = write_long_turns(source, tmp_path / "long.json", min_chars=300, max_chars=500)
    convs = load_locomo(tmp_path / "long.json")
    assert len(convs) == 2 and summary["questions"] == sum(len(c.questions) for c in convs)
    assert all(q.evidence for c in convs for q in c.questions)


def test_evidence_in_user_turns_begins_a_user_turn_with_each_evidence_utterance() -> None:
    data = derive_long_turns(SOURCE, seed=3, min_chars=300, max_chars=500, distractors=1,
                             evidence_in="user")
    first = data[0]
    turns = _turns(first)
    evidence = [e for q in first["qa"] for e in q["evidence"]]
    assert evidence and all(turns[e]["speaker"] == USER for e in evidence)
    for q, source_q in zip(first["qa"], SOURCE[0]["qa"], strict=False):
        n = int(source_q["evidence"][0].split(":")[1]) - 1
        starts = [turns[e]["text"] for e in q["evidence"]]
        assert any(t.startswith("Ann: x utterance 2-") or t.startswith("Ben: x utterance 2-")
                   for t in starts)
        assert all(f" utterance {s}-{n} " in t for s, t in zip((2, 3), starts, strict=True))
    # the default leaves most evidence inside the long assistant turns
    plain = derive_long_turns(SOURCE, seed=3, min_chars=300, max_chars=500, distractors=1)
    plain_turns = _turns(plain[0])
    assert any(plain_turns[e]["speaker"] == ASSISTANT
               for q in plain[0]["qa"] for e in q["evidence"])


def test_an_unknown_evidence_placement_is_refused() -> None:
    with pytest.raises(InvalidInput, match="evidence_in"):
        derive_long_turns(SOURCE, evidence_in="assistant")

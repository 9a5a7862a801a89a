"""Dataset formats: OpenAI chat and DPO, TRL standard and conversational — each read back as
it was written, strict parsing naming the bad line, skip_invalid keeping the good rows."""

from __future__ import annotations

import json

import pytest

from cerebra.errors import InvalidInput
from cerebra.improve.formats import canonical_jsonl, export_jsonl, parse_jsonl
from cerebra.improve.rows import PrefPair, SftRow

SFT = [SftRow("What is 2+2?", "4", source="kit", trace_id="t1", task="math"),
       SftRow("Capital of France?", "Paris", source="user")]
DPO = [PrefPair("Say hi", "Hello!", "go away", source="rlaif", trace_id="t2")]


@pytest.mark.parametrize("fmt,conversational", [("openai", False), ("trl", False),
                                                ("trl", True)])
@pytest.mark.parametrize("rows", [SFT, DPO], ids=["sft", "dpo"])
def test_round_trip(rows: list, fmt: str, conversational: bool) -> None:
    text = export_jsonl(rows, fmt, conversational=conversational, meta=True)  # type: ignore[arg-type]
    for imported_as in (fmt, "auto"):
        parsed = parse_jsonl(text, fmt=imported_as)  # type: ignore[arg-type]
        assert parsed.rows == rows
        assert parsed.kind == ("dpo" if isinstance(rows[0], PrefPair) else "sft")
    # without meta the texts survive, the provenance does not
    bare = parse_jsonl(export_jsonl(rows, fmt, conversational=conversational)).rows  # type: ignore[arg-type]
    assert [r.prompt for r in bare] == [r.prompt for r in rows]


def test_openai_shapes_are_the_documented_ones() -> None:
    sft = json.loads(export_jsonl(SFT[:1], "openai"))
    assert sft == {"messages": [{"role": "user", "content": "What is 2+2?"},
                                {"role": "assistant", "content": "4"}]}
    dpo = json.loads(export_jsonl(DPO, "openai"))
    assert dpo == {"input": {"messages": [{"role": "user", "content": "Say hi"}]},
                   "preferred_output": [{"role": "assistant", "content": "Hello!"}],
                   "non_preferred_output": [{"role": "assistant", "content": "go away"}]}
    assert json.loads(export_jsonl(SFT[:1], "trl")) == {"prompt": "What is 2+2?",
                                                        "completion": "4"}


def test_system_message_and_text_parts_are_read() -> None:
    line = json.dumps({"messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Hi "}, {"type": "text",
                                                                      "text": "there"}]},
        {"role": "assistant", "content": "Hello."}]})
    (row,) = parse_jsonl(line).rows
    assert row == SftRow("Be brief.\n\nHi there", "Hello.")


@pytest.mark.parametrize("line,problem", [
    ('{"messages": [{"role": "user", "content": "x"}]}', "end with the assistant"),
    ('{"messages": [{"role": "robot", "content": "x"}]}', "role must be"),
    ('{"prompt": "x"}', "needs completion"),
    ('{"prompt": 3, "completion": "y"}', "prompt must be"),
    ('[1, 2]', "JSON object"),
    ('{"prompt": "x", "completion": ', "not JSON"),
    ('{"input": {"messages": [{"role": "user", "content": "x"}]}, "preferred_output": '
     '[{"role": "assistant", "content": "a"}]}', "non_preferred_output"),
])
def test_bad_line_is_named_and_nothing_is_kept(line: str, problem: str) -> None:
    good = json.dumps({"prompt": "a", "completion": "b"})
    with pytest.raises(InvalidInput) as err:
        parse_jsonl(f"{good}\n\n{line}\n{good}\n")
    assert err.value.message.startswith("line 3: ")
    assert problem in err.value.message
    assert err.value.to_dict()["line"] == 3


def test_skip_invalid_keeps_the_good_rows_and_reports_the_rest() -> None:
    lines = [json.dumps({"prompt": "a", "completion": "b"}), "nope",
             json.dumps({"prompt": "c", "chosen": "d", "rejected": "e"}),  # other kind
             json.dumps({"prompt": "f", "completion": "g"})]
    parsed = parse_jsonl("\n".join(lines), skip_invalid=True)
    assert [r.prompt for r in parsed.rows] == ["a", "f"]
    assert [(e.line, e.problem.split(" (")[0]) for e in parsed.rejected] == [
        (2, "not JSON"), (3, "a dpo row in a sft dataset")]


def test_sizes_are_bounded() -> None:
    line = json.dumps({"prompt": "a", "completion": "b"})
    with pytest.raises(InvalidInput, match="line 3: more than 2 rows"):
        parse_jsonl("\n".join([line] * 3), max_rows=2)
    with pytest.raises(InvalidInput, match="line 1: the line is longer than 20"):
        parse_jsonl(json.dumps({"prompt": "a" * 30, "completion": "b"}), max_line_chars=20)
    with pytest.raises(InvalidInput, match="no rows"):
        parse_jsonl("\n\n")


def test_canonical_jsonl_depends_only_on_the_rows() -> None:
    assert canonical_jsonl(SFT) == canonical_jsonl(list(SFT))
    assert canonical_jsonl(SFT) != canonical_jsonl(SFT[::-1])
    first = json.loads(canonical_jsonl(SFT).splitlines()[0])
    assert list(first) == sorted(first)

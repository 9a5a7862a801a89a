"""Dataset files: strict JSONL import and export of training rows in OpenAI's fine-tuning
formats and TRL's, and the canonical JSONL a version's content hash is taken over.

Formats (one JSON object a line):

- ``openai`` SFT: ``{"messages": [{"role": "system"}?, {"role": "user"}, {"role":
  "assistant"}]}`` — one turn; a system message is folded into the prompt (its text, a blank
  line, the user's text). DPO: ``{"input": {"messages": [...]}, "preferred_output":
  [{"role": "assistant", ...}], "non_preferred_output": [...]}``.
- ``trl``: standard ``{"prompt", "completion"}`` and ``{"prompt", "chosen", "rejected"}``,
  and the conversational variants where each value is a list of messages.
- ``auto`` (import only): each line's shape says which of the above it is.

Parsing is strict: a line of the wrong shape is an error naming its line number and the
problem, and the whole import is refused (``InvalidInput``, with ``line`` in the error
body) unless ``skip_invalid`` — then the good rows are kept and the bad lines reported.
Sizes are bounded (rows per file, characters per line). Optional ``source``, ``trace_id``
and ``task`` keys on a line are kept; other unknown keys are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from cerebra.errors import InvalidInput
from cerebra.improve.rows import PrefPair, Row, SftRow

Format = Literal["openai", "trl"]
ImportFormat = Literal["openai", "trl", "auto"]
Kind = Literal["sft", "dpo"]
FORMATS: tuple[str, ...] = ("openai", "trl")
KINDS: tuple[str, ...] = ("sft", "dpo")
MAX_ROWS = 100_000
MAX_LINE_CHARS = 200_000
MAX_META_CHARS = 200


@dataclass(frozen=True)
class LineError:
    """A line refused on import: its number (1-based) and what is wrong with it."""

    line: int
    problem: str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "problem": self.problem}


@dataclass
class Parsed:
    """What an import read: the rows, their kind, and the lines skipped (skip_invalid)."""

    rows: list[Row]
    kind: Kind
    rejected: list[LineError] = field(default_factory=list)


class _Bad(ValueError):
    """A row's problem (the line number is added by the caller)."""


def row_kind(row: Row) -> Kind:
    return "dpo" if isinstance(row, PrefPair) else "sft"


def _text(value: Any, where: str) -> str:
    """A message content: a string, or a list of text parts (joined)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(
            isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
            for p in value):
        return "".join(p["text"] for p in value)
    raise _Bad(f"{where} must be a string (or a list of text parts)")


def _messages(value: Any, where: str) -> list[tuple[str, str]]:
    if not isinstance(value, list) or not value:
        raise _Bad(f"{where} must be a non-empty list of messages")
    out = []
    for i, m in enumerate(value):
        if not isinstance(m, dict):
            raise _Bad(f"{where}[{i}] must be an object with role and content")
        role = m.get("role")
        if role not in ("system", "user", "assistant"):
            raise _Bad(f"{where}[{i}].role must be system, user or assistant")
        if "content" not in m:
            raise _Bad(f"{where}[{i}] has no content")
        out.append((role, _text(m["content"], f"{where}[{i}].content")))
    return out


def _prompt_of(messages: list[tuple[str, str]], where: str) -> str:
    """[system?, user] → the prompt text."""
    roles = [r for r, _ in messages]
    if roles == ["user"]:
        return messages[0][1]
    if roles == ["system", "user"]:
        return f"{messages[0][1]}\n\n{messages[1][1]}"
    raise _Bad(f"{where} must be one user message, optionally after one system message "
               f"(got roles {roles})")


def _answer_of(messages: list[tuple[str, str]], where: str) -> str:
    if [r for r, _ in messages] != ["assistant"]:
        raise _Bad(f"{where} must be exactly one assistant message")
    return messages[0][1]


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("source", "trace_id", "task"):
        value = obj.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > MAX_META_CHARS:
            raise _Bad(f"{key} must be a string of at most {MAX_META_CHARS} characters")
        out[key] = value
    out.setdefault("source", "")
    return out


def _openai(obj: dict[str, Any]) -> Row:
    if "messages" in obj:
        messages = _messages(obj["messages"], "messages")
        if messages[-1][0] != "assistant":
            raise _Bad("messages must end with the assistant's answer")
        return SftRow(_prompt_of(messages[:-1], "messages before the answer"),
                      messages[-1][1], **_meta(obj))
    if "input" in obj:
        inp = obj["input"]
        if not isinstance(inp, dict):
            raise _Bad("input must be an object with messages")
        prompt = _prompt_of(_messages(inp.get("messages"), "input.messages"), "input.messages")
        for key in ("preferred_output", "non_preferred_output"):
            if key not in obj:
                raise _Bad(f"a preference row needs {key}")
        chosen = _answer_of(_messages(obj["preferred_output"], "preferred_output"),
                            "preferred_output")
        rejected = _answer_of(_messages(obj["non_preferred_output"], "non_preferred_output"),
                              "non_preferred_output")
        return PrefPair(prompt, chosen, rejected, **_meta(obj))
    raise _Bad("an OpenAI row needs messages (SFT) or input with preferred_output and "
               "non_preferred_output (DPO)")


def _trl_prompt(value: Any) -> str:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return _prompt_of(_messages(value, "prompt"), "prompt")
    if not isinstance(value, str):
        raise _Bad("prompt must be a string or a list of messages")
    return value


def _trl_answer(value: Any, key: str) -> str:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return _answer_of(_messages(value, key), key)
    if not isinstance(value, str):
        raise _Bad(f"{key} must be a string or a list of messages")
    return value


def _trl(obj: dict[str, Any]) -> Row:
    if "prompt" not in obj:
        raise _Bad("a TRL row needs prompt (with completion, or chosen and rejected)")
    prompt = _trl_prompt(obj["prompt"])
    if "completion" in obj:
        if "chosen" in obj or "rejected" in obj:
            raise _Bad("a row has completion or chosen/rejected, not both")
        return SftRow(prompt, _trl_answer(obj["completion"], "completion"), **_meta(obj))
    if "chosen" in obj and "rejected" in obj:
        return PrefPair(prompt, _trl_answer(obj["chosen"], "chosen"),
                        _trl_answer(obj["rejected"], "rejected"), **_meta(obj))
    raise _Bad("a TRL row needs completion, or chosen and rejected")


def parse_row(obj: Any, fmt: ImportFormat = "auto") -> Row:
    """One decoded JSON line as a row; ValueError naming the problem."""
    if not isinstance(obj, dict):
        raise _Bad("a line must be a JSON object")
    if fmt == "openai":
        return _openai(obj)
    if fmt == "trl":
        return _trl(obj)
    return _openai(obj) if ("messages" in obj or "input" in obj) else _trl(obj)


def parse_jsonl(text: str, *, fmt: ImportFormat = "auto", kind: Kind | None = None,
                skip_invalid: bool = False, max_rows: int = MAX_ROWS,
                max_line_chars: int = MAX_LINE_CHARS) -> Parsed:
    """Rows of a JSONL text (blank lines are skipped). All rows are of one kind: `kind`, or
    the first good row's. A bad line → InvalidInput naming it (field "file", `line` in the
    body), unless `skip_invalid`: then it is listed in `rejected` and the rest is kept."""
    if fmt not in ("openai", "trl", "auto"):
        raise InvalidInput(f"unknown format {fmt!r}: openai, trl or auto", field="format")
    if kind is not None and kind not in KINDS:
        raise InvalidInput(f"unknown kind {kind!r}: sft or dpo", field="kind")
    rows: list[Row] = []
    rejected: list[LineError] = []
    want: Kind | None = kind
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            if len(line) > max_line_chars:
                raise _Bad(f"the line is longer than {max_line_chars} characters")
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise _Bad(f"not JSON ({exc.msg} at column {exc.colno})") from None
            row = parse_row(obj, fmt)
            got = row_kind(row)
            if want is not None and got != want:
                raise _Bad(f"a {got} row in a {want} dataset")
            want = got
        except _Bad as exc:
            if not skip_invalid:
                raise InvalidInput(f"line {number}: {exc}", field="file", line=number) from None
            rejected.append(LineError(number, str(exc)))
            continue
        if len(rows) >= max_rows:
            raise InvalidInput(f"line {number}: more than {max_rows} rows", field="file",
                               line=number)
        rows.append(row)
    if not rows:
        detail = f" ({len(rejected)} lines refused)" if rejected else ""
        raise InvalidInput(f"no rows to import{detail}", field="file")
    return Parsed(rows, want or "sft", rejected)


def _meta_out(row: Row) -> dict[str, Any]:
    return {k: v for k, v in (("source", row.source), ("trace_id", row.trace_id),
                              ("task", row.task)) if v}


def to_openai(row: Row, *, meta: bool = False) -> dict[str, Any]:
    """A row in OpenAI's fine-tuning format (chat SFT, or DPO)."""
    user = [{"role": "user", "content": row.prompt}]
    extra = _meta_out(row) if meta else {}
    if isinstance(row, PrefPair):
        return {"input": {"messages": user},
                "preferred_output": [{"role": "assistant", "content": row.chosen}],
                "non_preferred_output": [{"role": "assistant", "content": row.rejected}],
                **extra}
    return {"messages": [*user, {"role": "assistant", "content": row.completion}], **extra}


def to_trl(row: Row, *, conversational: bool = False, meta: bool = False) -> dict[str, Any]:
    """A row in TRL's standard format (strings), or its conversational one (messages)."""
    def wrap(role: str, text: str) -> Any:
        return [{"role": role, "content": text}] if conversational else text

    extra = _meta_out(row) if meta else {}
    if isinstance(row, PrefPair):
        return {"prompt": wrap("user", row.prompt), "chosen": wrap("assistant", row.chosen),
                "rejected": wrap("assistant", row.rejected), **extra}
    return {"prompt": wrap("user", row.prompt), "completion": wrap("assistant", row.completion),
            **extra}


def export_jsonl(rows: Iterable[Row], fmt: Format = "openai", *, conversational: bool = False,
                 meta: bool = False) -> str:
    """Rows as JSONL text in a format (`meta`: keep source, trace_id and task keys)."""
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown format {fmt!r}: openai or trl", field="format")
    lines = [json.dumps(to_openai(r, meta=meta) if fmt == "openai"
                        else to_trl(r, conversational=conversational, meta=meta),
                        ensure_ascii=False) for r in rows]
    return "".join(line + "\n" for line in lines)


def canonical_jsonl(rows: Sequence[Row]) -> str:
    """Every field of every row, keys sorted, compact: identical rows give identical text."""
    def record(row: Row) -> dict[str, Any]:
        base = {"prompt": row.prompt, "source": row.source, "trace_id": row.trace_id,
                "task": row.task}
        if isinstance(row, PrefPair):
            return {**base, "chosen": row.chosen, "rejected": row.rejected}
        return {**base, "completion": row.completion}

    return "".join(json.dumps(record(r), sort_keys=True, ensure_ascii=False,
                              separators=(",", ":")) + "\n" for r in rows)

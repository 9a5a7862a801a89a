"""The kit format: one task packaged as a folder — `kit.yaml` (name, task, prompt template,
checker spec, workflow defaults, answer length and stop sequences), `train.jsonl` (training
items), `eval.jsonl` (held-out items) and an optional `checker.py`.

`load_kit(folder)` validates everything (pydantic; an error names the file, the line and
the key) and returns a `Kit`: `kit.prompt(item)` renders the Jinja2 template in a sandbox
with the item's fields (`input`, `id` and the item's extra fields — never its reference),
`kit.check(item, answer)` scores an answer with `cerebra.judging.checker.Check` (the item's
reference is the expected value where the kind needs one), `kit.train` / `kit.eval` are the
items and `kit.content_hash` fingerprints the folder's files.

Checker kinds: exact | normalized (option `contains`), regex (`pattern`, else the item's
reference is the pattern), json_schema (`schema`; with `match_reference` the JSON must also
equal the item's reference JSON field by field, normalised), numeric (`abs_tol`, `rel_tol`;
the reference is the number), function (`source` or `file`: Python defining
`check(answer) -> bool | float`, run in cerebra.judging.sandbox with the globals
`REFERENCE` — the item's reference or None — and `ITEM`, the item's fields).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cerebra.errors import InvalidInput
from cerebra.judging.checker import Check, extract_json, normalize

if TYPE_CHECKING:
    from cerebra.improve.rows import SftRow

KIT_FILES = ("kit.yaml", "train.jsonl", "eval.jsonl", "checker.py")
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_ITEMS = 100_000
_REFERENCE_KINDS = ("exact", "normalized", "numeric")


class KitError(InvalidInput):
    """A kit that does not validate; the message names the file, line and key."""

    code = "invalid_kit"


class CheckerSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["exact", "normalized", "regex", "json_schema", "numeric", "function"]
    contains: bool = False
    pattern: str | None = Field(None, max_length=2000)
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    match_reference: bool = False
    abs_tol: float = Field(1e-6, ge=0)
    rel_tol: float = Field(0.0, ge=0)
    source: str | None = Field(None, max_length=100_000)
    file: str | None = Field(None, pattern=r"^checker\.py$")
    time_limit_s: float = Field(2.0, gt=0, le=60)
    memory_mb: int = Field(256, ge=16, le=4096)
    pass_threshold: float = Field(1.0, gt=0, le=1)


class KitSpec(BaseModel):
    """What kit.yaml holds."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    task: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=4000)
    version: str = Field("1", max_length=40)
    prompt_template: str = Field(min_length=1, max_length=20_000)
    answer_prefix: str = Field(" ", max_length=20)  # put before a reference in training rows
    checker: CheckerSpec
    workflow: dict[str, Any] = Field(default_factory=dict)
    max_tokens: int = Field(48, ge=1, le=4096)
    stop: list[str] = Field(default_factory=lambda: ["\n"], max_length=8)
    source: str = Field("", max_length=2000)  # where the items come from
    license: str = Field("", max_length=200)

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value


@dataclass(frozen=True)
class KitItem:
    id: str
    input: str
    reference: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def fields(self) -> dict[str, Any]:
        """What the prompt template sees: the extra fields, `id` and `input`."""
        return {**self.meta, "id": self.id, "input": self.input}

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "input": self.input}
        if self.reference is not None:
            out["reference"] = self.reference
        return {**out, **self.meta}


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    score: float
    reason: str


class Kit:
    """A loaded, validated kit."""

    def __init__(self, spec: KitSpec, train: list[KitItem], eval: list[KitItem], *,
                 checker_source: str | None = None, path: Path | None = None,
                 content_hash: str = "") -> None:
        self.spec = spec
        self.train = train
        self.eval = eval
        self.checker_source = checker_source
        self.path = path
        self.content_hash = content_hash or _hash_parts(
            [yaml.safe_dump(spec.model_dump(by_alias=True)).encode(),
             *(json.dumps(i.to_json(), sort_keys=True).encode() for i in train + eval),
             (checker_source or "").encode()])
        self._template = _environment().from_string(spec.prompt_template)

    name = property(lambda self: self.spec.name)
    task = property(lambda self: self.spec.task)
    description = property(lambda self: self.spec.description)
    prompt_template = property(lambda self: self.spec.prompt_template)
    checker = property(lambda self: self.spec.checker)  # the CheckerSpec
    workflow = property(lambda self: dict(self.spec.workflow))  # workflow key defaults
    max_tokens = property(lambda self: self.spec.max_tokens)
    stop = property(lambda self: list(self.spec.stop))

    def prompt(self, item: KitItem) -> str:
        try:
            return self._template.render(**item.fields())
        except TemplateError as exc:
            raise KitError(f"kit {self.name}: the prompt template fails on item "
                           f"{item.id!r}: {exc}", field="prompt_template") from None

    def completion(self, item: KitItem) -> str:
        """The training completion for an item: the answer prefix and its reference."""
        if item.reference is None:
            raise KitError(f"kit {self.name}: item {item.id!r} has no reference",
                           field="reference")
        return self.spec.answer_prefix + item.reference

    def sft_rows(self, split: str = "train") -> list[SftRow]:
        """The split's items with references as training rows (prompt, completion)."""
        from cerebra.improve.rows import SftRow

        items = self.train if split == "train" else self.eval
        return [SftRow(self.prompt(i), self.completion(i), source=f"kit:{self.name}",
                       task=self.task) for i in items if i.reference is not None]

    def clean(self, answer: str) -> str:
        """A raw generation, leading blanks off, cut at the first stop sequence, stripped."""
        answer = answer.lstrip()
        cut = len(answer)
        for stop in self.spec.stop:
            at = answer.find(stop) if stop else -1
            if at >= 0:
                cut = min(cut, at)
        return answer[:cut].strip()

    def check(self, item: KitItem, answer: str) -> CheckResult:
        spec = self.spec.checker
        text = self.clean(answer)
        if spec.kind == "json_schema" and spec.match_reference:
            return self._json_fields(item, text)
        result = self._check_for(item).score(text)
        return CheckResult(result.score >= spec.pass_threshold, result.score, result.reason)

    @cached_property
    def checker_kind(self) -> str:
        return self.spec.checker.kind

    def texts(self) -> list[str]:
        """The eval items' inputs and references (for decontamination)."""
        out: list[str] = []
        for item in self.eval:
            out.append(item.input)
            if item.reference:
                out.append(item.reference)
        return out

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "task": self.task, "description": self.description,
                "version": self.spec.version, "checker": self.checker_kind,
                "train_items": len(self.train), "eval_items": len(self.eval),
                "content_hash": self.content_hash, "max_tokens": self.spec.max_tokens,
                "workflow": dict(self.spec.workflow), "source": self.spec.source}

    def write(self, folder: Path) -> Path:
        """Write the kit as a folder (kit.yaml, train.jsonl, eval.jsonl, checker.py)."""
        folder.mkdir(parents=True, exist_ok=True)
        data = self.spec.model_dump(by_alias=True, exclude_defaults=True)
        data.setdefault("checker", {"kind": self.checker_kind})["kind"] = self.checker_kind
        if self.checker_source is not None:
            data["checker"].pop("source", None)
            data["checker"]["file"] = "checker.py"
            (folder / "checker.py").write_text(self.checker_source, encoding="utf-8")
        (folder / "kit.yaml").write_text(yaml.safe_dump(data, sort_keys=False,
                                                        allow_unicode=True), encoding="utf-8")
        for name, items in (("train.jsonl", self.train), ("eval.jsonl", self.eval)):
            (folder / name).write_text("".join(json.dumps(i.to_json(), ensure_ascii=False)
                                               + "\n" for i in items), encoding="utf-8")
        return folder

    def _check_for(self, item: KitItem) -> Check:
        spec, ref = self.spec.checker, item.reference
        if spec.kind in ("exact", "normalized"):
            return (Check.exact if spec.kind == "exact" else Check.normalized)(
                ref or "", contains=spec.contains)
        if spec.kind == "regex":
            return Check.regex(spec.pattern or ref or "")
        if spec.kind == "json_schema":
            return Check.json_schema(spec.schema_ or {})
        if spec.kind == "numeric":
            return Check.numeric(float(ref or "nan"), abs_tol=spec.abs_tol, rel_tol=spec.rel_tol)
        prelude = (f"import json as _json\nREFERENCE = _json.loads({json.dumps(json.dumps(ref))})"
                   f"\nITEM = _json.loads({json.dumps(json.dumps(item.to_json()))})\n")
        return Check.function(prelude + (self.checker_source or ""),
                              time_limit_s=spec.time_limit_s, memory_mb=spec.memory_mb)

    def _json_fields(self, item: KitItem, text: str) -> CheckResult:
        spec = self.spec.checker
        if spec.schema_:
            first = Check.json_schema(spec.schema_).score(text)
            if first.score < 1:
                return CheckResult(False, 0.0, first.reason)
        try:
            got, want = extract_json(text), json.loads(item.reference or "null")
        except ValueError:
            return CheckResult(False, 0.0, "the answer holds no JSON")
        if not isinstance(want, dict) or not isinstance(got, dict):
            same = _norm_value(got) == _norm_value(want)
            return CheckResult(same, float(same), "equal" if same else "differs")
        keys = set(want) | set(got)
        right = [k for k in keys if _norm_value(got.get(k)) == _norm_value(want.get(k))]
        score = len(right) / len(keys) if keys else 1.0
        wrong = sorted(keys - set(right))
        reason = "all fields match" if not wrong else f"fields differ: {', '.join(wrong)}"
        return CheckResult(score >= spec.pass_threshold, score, reason)


def _norm_value(value: Any) -> Any:
    if isinstance(value, str):
        return normalize(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list):
        return [_norm_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _norm_value(v) for k, v in value.items()}
    return value


def _environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False,
                                keep_trailing_newline=True)


def _hash_parts(parts: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


# --- loading -------------------------------------------------------------------------------

def load_kit(folder: str | Path) -> Kit:
    """Load and validate the kit in `folder`; KitError names the file, line and key."""
    root = Path(folder)
    if not root.is_dir():
        raise KitError(f"{root}: not a kit folder", field="path")
    spec_path = root / "kit.yaml"
    raw_yaml = _read(spec_path)
    spec = _parse_spec(raw_yaml, spec_path)
    try:
        _environment().from_string(spec.prompt_template)
    except TemplateError as exc:
        raise KitError(f"{spec_path}: prompt_template: {exc}", field="prompt_template") from None
    checker_source = _checker_source(spec, root)
    raws = {"kit.yaml": raw_yaml}
    if spec.checker.file:
        raws["checker.py"] = checker_source or ""
    train = _items(root / "train.jsonl", spec, required=False, raws=raws)
    eval_ = _items(root / "eval.jsonl", spec, required=True, raws=raws)
    if not eval_:
        raise KitError(f"{root / 'eval.jsonl'}: no items", field="eval.jsonl")
    _check_disjoint(root, train, eval_)
    kit = Kit(spec, train, eval_, checker_source=checker_source, path=root,
              content_hash=_hash_parts(raws[name].encode() for name in sorted(raws)))
    for item in (eval_ + train)[:1]:
        kit.prompt(item)  # the template renders with the items' fields
    return kit


def _read(path: Path) -> str:
    if not path.is_file():
        raise KitError(f"{path}: missing", field=path.name)
    if path.stat().st_size > MAX_FILE_BYTES:
        raise KitError(f"{path}: larger than {MAX_FILE_BYTES} bytes", field=path.name)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise KitError(f"{path}: not UTF-8 text ({exc.reason})", field=path.name) from None


def _parse_spec(text: str, path: Path) -> KitSpec:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise KitError(f"{path}{line}: not valid YAML: {getattr(exc, 'problem', exc)}",
                       field="kit.yaml") from None
    if not isinstance(data, dict):
        raise KitError(f"{path}: must be a mapping of keys", field="kit.yaml")
    try:
        return KitSpec.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = [str(p) for p in error["loc"]]
        key = ".".join(loc) or "kit.yaml"
        at = _line_of(node, loc)
        where = f" line {at}" if at else ""
        raise KitError(f"{path}{where}: {key}: {error['msg']}", field=key) from None


def _line_of(node: Any, loc: list[str]) -> int | None:
    """The 1-based line of the deepest key of `loc` present in the YAML node tree."""
    line = None
    for part in loc:
        if not isinstance(node, yaml.MappingNode):
            break
        for key, value in node.value:
            if key.value == part:
                line, node = key.start_mark.line + 1, value
                break
        else:
            break
    return line


def _checker_source(spec: KitSpec, root: Path) -> str | None:
    checker = spec.checker
    if checker.kind != "function":
        if checker.kind == "json_schema" and not (checker.schema_ or checker.match_reference):
            raise KitError(f"{root / 'kit.yaml'}: checker.schema: json_schema needs a schema "
                           "or match_reference", field="checker.schema")
        if checker.schema_ is not None:
            Check.json_schema(checker.schema_)
        if checker.kind == "regex" and checker.pattern:
            Check.regex(checker.pattern)
        return None
    if bool(checker.source) == bool(checker.file):
        raise KitError(f"{root / 'kit.yaml'}: checker: a function checker needs exactly one "
                       "of source and file", field="checker.source")
    source = checker.source or _read(root / str(checker.file))
    try:
        compile(source, str(root / (checker.file or "kit.yaml")), "exec")
    except SyntaxError as exc:
        raise KitError(f"{root / (checker.file or 'kit.yaml')} line {exc.lineno}: the checker "
                       f"does not compile: {exc.msg}", field="checker") from None
    return source


def _items(path: Path, spec: KitSpec, *, required: bool,
           raws: dict[str, str]) -> list[KitItem]:
    if not path.exists() and not required:
        return []
    text = _read(path)
    raws[path.name] = text
    needs_ref = spec.checker.kind in _REFERENCE_KINDS or spec.checker.match_reference or (
        spec.checker.kind == "regex" and not spec.checker.pattern)
    items: list[KitItem] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        item = _item(path, number, line, needs_ref=needs_ref and path.name == "eval.jsonl")
        if item.id in seen:
            raise KitError(f"{path} line {number}: id: duplicate id {item.id!r}", field="id")
        seen.add(item.id)
        items.append(item)
        if len(items) > MAX_ITEMS:
            raise KitError(f"{path}: more than {MAX_ITEMS} items", field=path.name)
    return items


def _item(path: Path, number: int, line: str, *, needs_ref: bool) -> KitItem:
    where = f"{path} line {number}"
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise KitError(f"{where}: not JSON: {exc.msg}", field=path.name) from None
    if not isinstance(row, dict):
        raise KitError(f"{where}: an item must be a JSON object", field=path.name)
    for key in ("id", "input"):
        value = row.get(key)
        if key == "id" and isinstance(value, int) and not isinstance(value, bool):
            value = row[key] = str(value)
        if not isinstance(value, str) or not value.strip():
            raise KitError(f"{where}: {key}: required, non-empty text", field=key)
    reference = row.get("reference")
    if reference is not None and not isinstance(reference, str):
        if isinstance(reference, int | float | dict | list) and not isinstance(reference, bool):
            reference = json.dumps(reference) if isinstance(reference, dict | list) \
                else str(reference)
        else:
            raise KitError(f"{where}: reference: must be text", field="reference")
    if needs_ref and reference is None:
        raise KitError(f"{where}: reference: required by the checker", field="reference")
    meta = {k: v for k, v in row.items() if k not in ("id", "input", "reference")}
    if not all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k) for k in meta):
        raise KitError(f"{where}: extra field names must be identifiers", field=path.name)
    return KitItem(id=row["id"], input=row["input"], reference=reference, meta=meta)


def _check_disjoint(root: Path, train: list[KitItem], eval_: list[KitItem]) -> None:
    held_out = {normalize(i.input): i.id for i in eval_}
    for item in train:
        if normalize(item.input) in held_out:
            raise KitError(f"{root / 'train.jsonl'}: item {item.id!r} repeats the input of "
                           f"eval item {held_out[normalize(item.input)]!r}",
                           field="train.jsonl")

"""Mission templates: what a mission is (a set of prompts, each checked by a verifiable rule
or judged by a model; the agents it is assigned to; what passing means) and how one is read
from a mapping — a YAML file of a missions folder or a stored row.

```yaml
# missions/capitals.yaml (the name defaults to the file's stem)
description: capitals of Europe
agents: []              # empty: every agent of the tenant, sandboxed ones included
pass_score: 0.5         # a prompt is passed at this score or above
max_tokens: 32
temperature: 0.0
max_latency_ms: 20000   # optional: a slower answer fails (a model metric)
judge: null             # optional: a model that judges prompts without a check
prompts:
  - prompt: What is the capital of France? Answer with one word.
    check: {kind: normalized, expected: paris, contains: true}
  - prompt: Write a haiku about the sea.        # no check: the judge model decides
```

Check kinds are the checker judge's (cerebra.judging.checker.Check): exact, normalized
(`contains`), regex, json_schema, numeric (`abs_tol`, `rel_tol`), function (`time_limit_s`,
`memory_mb`; Python source defining `check(answer)`, run in a limited child process).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cerebra.agents.registry import MODEL_PATTERN, check_id
from cerebra.errors import InvalidInput
from cerebra.judging.checker import Check

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_NAME = re.compile(NAME_PATTERN[1:-1])
_MODEL = re.compile(MODEL_PATTERN[1:-1])
MAX_PROMPTS = 100
MAX_PROMPT_CHARS = 4000
CHECK_KINDS = ("exact", "normalized", "regex", "json_schema", "numeric", "function")
_FIELDS = {"name", "description", "agents", "pass_score", "max_tokens", "temperature",
           "max_latency_ms", "judge", "prompts", "daily"}


def check_name(value: object, field: str = "name") -> str:
    """A mission's name: like an agent id (letters, digits, `_ . -`; 64 at most)."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise InvalidInput(f"{field} must be 1-64 letters, digits, '_', '.' or '-', starting "
                           "with a letter or digit", field=field)
    return value


def build_check(spec: Mapping[str, Any]) -> Check:
    """A Check from its mapping ({kind, expected, …options}); bad ones are InvalidInput."""
    if not isinstance(spec, Mapping):
        raise InvalidInput("a check is a mapping with kind and expected", field="check")
    kind = spec.get("kind")
    expected: Any = spec.get("expected")  # each constructor checks it
    if kind not in CHECK_KINDS:
        raise InvalidInput(f"check kind is one of {', '.join(CHECK_KINDS)}", field="check.kind")
    if kind in ("exact", "normalized"):
        build = Check.exact if kind == "exact" else Check.normalized
        return build(expected, contains=bool(spec.get("contains", False)))
    if kind == "regex":
        if not isinstance(expected, str):
            raise InvalidInput("a regex check's expected is a pattern", field="check.expected")
        return Check.regex(expected)
    if kind == "json_schema":
        if not isinstance(expected, Mapping):
            raise InvalidInput("a json_schema check's expected is a schema",
                               field="check.expected")
        return Check.json_schema(expected)
    if kind == "numeric":
        return Check.numeric(expected, abs_tol=float(spec.get("abs_tol", 1e-6)),
                             rel_tol=float(spec.get("rel_tol", 0.0)))
    if not isinstance(expected, str):
        raise InvalidInput("a function check's expected is Python source",
                           field="check.expected")
    return Check.function(expected, time_limit_s=float(spec.get("time_limit_s", 2.0)),
                          memory_mb=int(spec.get("memory_mb", 256)))


@dataclass(frozen=True)
class MissionPrompt:
    prompt: str
    check: Check | None  # None: the mission's judge model decides


@dataclass(frozen=True)
class Mission:
    """A mission template (see the module docstring); `spec` is the mapping it was read
    from, what is stored and shown."""

    name: str
    prompts: tuple[MissionPrompt, ...]
    spec: Mapping[str, Any] = field(repr=False)
    description: str = ""
    agents: tuple[str, ...] = ()
    pass_score: float = 0.5
    max_tokens: int = 64
    temperature: float = 0.0
    max_latency_ms: float | None = None
    judge: str | None = None
    daily: bool = True  # part of perform_daily (else run on demand only)
    source: str = "database"  # database | the file's path

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], *, name: str | None = None,
                  source: str = "database") -> Mission:
        if not isinstance(spec, Mapping):
            raise InvalidInput("a mission is a mapping (see cerebra.agents.mission_spec)",
                               field="mission")
        unknown = sorted(set(spec) - _FIELDS)
        if unknown:
            raise InvalidInput(f"unknown mission fields: {', '.join(unknown)}",
                               field=unknown[0])
        mission_name = check_name(name if name is not None else spec.get("name"))
        prompts = spec.get("prompts")
        if not isinstance(prompts, list) or not 1 <= len(prompts) <= MAX_PROMPTS:
            raise InvalidInput(f"prompts: a list of 1 to {MAX_PROMPTS}", field="prompts")
        judge = spec.get("judge")
        if judge is not None and not (isinstance(judge, str) and _MODEL.fullmatch(judge)):
            raise InvalidInput("judge: a model name", field="judge")
        items = tuple(_prompt(p, i, judge) for i, p in enumerate(prompts))
        agents = spec.get("agents") or []
        if not isinstance(agents, list) or len(agents) > 100:
            raise InvalidInput("agents: a list of at most 100 agent ids", field="agents")
        pass_score = _number(spec.get("pass_score", 0.5), "pass_score", 0.0, 1.0)
        max_tokens = int(_number(spec.get("max_tokens", 64), "max_tokens", 1, 4096))
        temperature = _number(spec.get("temperature", 0.0), "temperature", 0.0, 2.0)
        latency = spec.get("max_latency_ms")
        clean = {**dict(spec), "name": mission_name}
        return cls(
            name=mission_name, prompts=items, spec=clean,
            description=str(spec.get("description") or "")[:500],
            agents=tuple(dict.fromkeys(check_id(a, "agents") for a in agents)),
            pass_score=pass_score, max_tokens=max_tokens, temperature=temperature,
            max_latency_ms=None if latency is None else _number(
                latency, "max_latency_ms", 1.0, 3_600_000.0),
            judge=judge, daily=bool(spec.get("daily", True)), source=source)

    def to_dict(self) -> dict[str, Any]:
        return {**dict(self.spec), "name": self.name, "source": self.source}


def _prompt(item: Any, index: int, judge: str | None) -> MissionPrompt:
    if isinstance(item, str):
        item = {"prompt": item}
    if not isinstance(item, Mapping):
        raise InvalidInput(f"prompts[{index}]: a mapping with prompt and check", field="prompts")
    text = item.get("prompt")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_PROMPT_CHARS:
        raise InvalidInput(f"prompts[{index}].prompt: 1 to {MAX_PROMPT_CHARS} characters",
                           field="prompts")
    spec = item.get("check")
    if spec is None and judge is None:
        raise InvalidInput(f"prompts[{index}] has no check and the mission no judge",
                           field="prompts")
    return MissionPrompt(text, None if spec is None else build_check(spec))


def _number(value: Any, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not low <= float(value) <= high:
        raise InvalidInput(f"{name} must be a number in [{low:g}, {high:g}]", field=name)
    return float(value)


def load_folder(folder: Path | str | None,
                problems: list[str] | None = None) -> dict[str, Mission]:
    """The missions of a folder's `*.yaml`/`*.yml` files, by name. A file that does not
    parse is skipped and its reason appended to `problems` ("name.yaml: why"); without a
    `problems` list it is an InvalidInput naming the file."""
    if folder is None or not Path(folder).is_dir():
        return {}
    out: dict[str, Mission] = {}
    for path in sorted(Path(folder).iterdir()):
        if path.suffix not in (".yaml", ".yml") or not path.is_file():
            continue
        try:
            out_mission = _load_file(path)
        except InvalidInput as exc:
            if problems is None:
                raise
            problems.append(exc.message)
            continue
        out[out_mission.name] = out_mission
    return out


def _load_file(path: Path) -> Mission:
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(spec, Mapping) and "name" not in spec:
            spec = {**spec, "name": path.stem}
        return Mission.from_spec(spec, source=str(path))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InvalidInput(f"{path.name}: not a readable YAML file ({exc})"[:500],
                           field="mission") from None
    except InvalidInput as exc:
        raise InvalidInput(f"{path.name}: {exc.message}", field=exc.field) from None
